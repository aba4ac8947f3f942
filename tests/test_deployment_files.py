"""The compose file serves the app against its own PostgreSQL; the image installs the lock.

No Docker engine here: both are read as files."""

from __future__ import annotations

from pathlib import Path

import yaml

from deployserver.config import normalize_database_url

ROOT = Path(__file__).resolve().parent.parent


def test_compose_app_uses_compose_postgres() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    url = normalize_database_url(services["app"]["environment"]["DEPLOYSERVER_DATABASE_URL"])
    assert url.get_backend_name() == "postgresql"
    assert url.host == "postgres" and "postgres" in services
    postgres = services["postgres"]
    assert url.username == postgres["environment"]["POSTGRES_USER"]
    assert url.database == postgres["environment"]["POSTGRES_DB"]
    assert "healthcheck" in postgres
    assert any(v.startswith("pgdata:") for v in postgres["volumes"])
    assert services["app"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "8080:8080" in services["app"]["ports"]
    # A start seeds (never moves a head); applying the files is an explicit sync.
    command = " ".join(services["app"]["command"])
    assert command.startswith("deployserver serve --seed channels ")
    assert "channels sync" not in command


def test_every_start_command_seeds_and_never_syncs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert '"serve", "--seed", "channels"' in cmd and "sync" not in cmd
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "deployserver serve --seed channels " in recipe
    assert "channels sync" not in recipe


def test_image_installs_the_lock_then_the_package_itself() -> None:
    steps = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip().startswith(("RUN", "COPY"))
    ]
    locked = next(i for i, s in enumerate(steps) if "--require-hashes -r requirements.lock" in s)
    itself = next(i for i, s in enumerate(steps) if "--no-deps ." in s)
    assert locked < itself
    assert "COPY requirements.lock ./" in steps[:locked]
    # Not editable: the image runs the installed package, migrations included.
    assert not any("-e ." in step or "migrations" in step for step in steps)
