# deployserver developer commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
HOST ?= 127.0.0.1
WORKERS ?= 2
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help
.PHONY: help install dev run test lint fmt typecheck migrate chromium bench bench-scale bench-storm clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@ $(STAMP)

install: $(STAMP) ## Create .venv and install deployserver

dev: $(DEV_STAMP) ## Install with the development tools

run: $(STAMP) ## Migrate, sync channels/ and serve on $(HOST):$(PORT) (SQLite by default)
	$(BIN)/deployserver db upgrade
	$(BIN)/deployserver channels sync channels
	$(BIN)/deployserver serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

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

bench-scale: $(DEV_STAMP) ## Scale curves: small vs large tables on SQLite and PostgreSQL (slow)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.scale

bench-storm: $(DEV_STAMP) ## Retry storm: 500 polling clients while a publish happens
	$(BIN)/python -m bench.storm

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
