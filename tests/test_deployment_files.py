"""The compose file serves the app against its own PostgreSQL (no Docker engine here)."""

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
    command = " ".join(services["app"]["command"])
    assert "channels sync channels" in command
    assert command.index("db upgrade") < command.index("channels sync") < command.index(" serve ")
