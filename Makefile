# deployserver developer commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1
WORKERS ?= 2
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# Exact versions with hashes, generated from pyproject.toml by `make lock`: every install
# (make run, make test, the Dockerfile) takes these, then the project itself with --no-deps.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
LOCK_FLAGS ?=
# One resolution for every platform and the oldest supported Python; the runtime lock is
# constrained by the dev lock, so both pin the same versions.
UV_COMPILE := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command "make lock"

.DEFAULT_GOAL := help
.PHONY: help install dev lock run test lint fmt typecheck migrate chromium bench bench-policies bench-scale bench-storm bench-slowclients bench-fleet clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(LOCK) pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	@touch $@

$(DEV_STAMP): $(BIN)/python $(DEV_LOCK) pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	@touch $@ $(STAMP)

install: $(STAMP) ## Create .venv and install deployserver

dev: $(DEV_STAMP) ## Install with the development tools

lock: $(BIN)/python ## Regenerate the lock files from pyproject.toml (LOCK_FLAGS=--upgrade: newest allowed)
	@# uv as the current dev lock pins it; the project is not installed (its deps may be new).
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(UV_COMPILE) $(LOCK_FLAGS) -o $(DEV_LOCK)
	$(BIN)/uv pip compile pyproject.toml -c $(DEV_LOCK) $(UV_COMPILE) -o $(LOCK)

run: $(STAMP) ## Migrate, seed an empty database from channels/, serve on $(HOST):$(PORT) (SQLite by default)
	$(BIN)/deployserver serve --seed channels --host $(HOST) --port $(PORT) --workers $(WORKERS)

migrate: $(STAMP) ## Migrate the configured database to head
	$(BIN)/deployserver db upgrade

lint: $(DEV_STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(DEV_STAMP) ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(DEV_STAMP) ## mypy on the package
	$(BIN)/mypy

# The console's browser tests drive Debian's chromium; Playwright's own browser download
# (`playwright install`) is never used.
chromium: ## Install Debian's chromium for the browser tests when it is missing
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }

test: $(DEV_STAMP) chromium ## Lint, check migrations against models, run the test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	DEPLOYSERVER_INSTANCE_PATH=$$(mktemp -d) $(BIN)/deployserver db check
	$(BIN)/pytest

bench: $(DEV_STAMP) ## Polling throughput: full licensed poll vs a bare Flask view (wrk)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.poll

bench-policies: $(DEV_STAMP) ## Polling throughput with 10,000 licenses carrying pins or windows
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.policies

bench-scale: $(DEV_STAMP) ## Scale curves: small vs large tables on SQLite and PostgreSQL (slow)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.scale

bench-storm: $(DEV_STAMP) ## Retry storm: 500 polling clients while a publish happens
	$(BIN)/python -m bench.storm

bench-slowclients: $(DEV_STAMP) ## Polls while 300 idle and 300 half-sent connections are held
	$(BIN)/python -m bench.slowclients

bench-fleet: $(DEV_STAMP) ## Two replicas + Redis: delay until every worker serves a publish
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
	$(BIN)/python -m bench.fleet

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
