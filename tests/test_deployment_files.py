"""The compose file: two replicas behind a load balancer, on its own PostgreSQL and Redis
(no Docker engine here, so the file is read, not run)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from deployserver.config import normalize_database_url

ROOT = Path(__file__).resolve().parent.parent
REPLICAS = ("app1", "app2")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_replicas_share_the_database_redis_and_secret() -> None:
    services = compose()
    environments = [services[name]["environment"] for name in REPLICAS]
    assert environments[0] == environments[1]
    environment = environments[0]
    url = normalize_database_url(environment["DEPLOYSERVER_DATABASE_URL"])
    assert url.get_backend_name() == "postgresql"
    assert url.host == "postgres"
    postgres = services["postgres"]
    assert url.username == postgres["environment"]["POSTGRES_USER"]
    assert url.database == postgres["environment"]["POSTGRES_DB"]
    assert "healthcheck" in postgres
    assert any(v.startswith("pgdata:") for v in postgres["volumes"])
    assert environment["DEPLOYSERVER_REDIS_URL"].startswith("redis://redis:")
    assert "redis" in services
    # Both must unseal the same signing keys: a shared secret, required.
    assert environment["DEPLOYSERVER_SECRET_KEY"].startswith("${DEPLOYSERVER_SECRET_KEY:?")
    assert environment["DEPLOYSERVER_TRUSTED_PROXIES"] == "1"


def test_each_replica_has_its_own_instance_folder_and_serves() -> None:
    services = compose()
    volumes = [services[name]["volumes"][0].split(":")[0] for name in REPLICAS]
    assert volumes == ["instance1", "instance2"]
    for name in REPLICAS:
        assert services[name]["command"][:2] == ["deployserver", "serve"]
        assert services[name]["depends_on"]["setup"]["condition"] == (
            "service_completed_successfully"
        )
        assert "ports" not in services[name]


def test_setup_migrates_and_seeds_once_before_the_replicas() -> None:
    services = compose()
    setup = services["setup"]
    command = " ".join(setup["command"])
    # A start seeds (never moves a head); applying the files is an explicit sync.
    assert command.index("db upgrade") < command.index("channels sync --seed channels")
    assert "channels sync channels" not in command
    for name in REPLICAS:
        assert "sync" not in " ".join(services[name]["command"])
    assert setup["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert setup["environment"] == services["app1"]["environment"]


def test_the_load_balancer_spreads_over_both_replicas() -> None:
    services = compose()
    lb = services["lb"]
    assert "8080:8080" in lb["ports"]
    assert set(lb["depends_on"]) == set(REPLICAS)
    mount = lb["volumes"][0].split(":")
    config = (ROOT / mount[0]).read_text()
    assert mount[1] == "/etc/nginx/nginx.conf"
    upstreams = re.findall(r"^\s*server (\S+:\d+)", config, re.MULTILINE)
    assert upstreams == ["app1:8080", "app2:8080"]
    assert "proxy_add_x_forwarded_for" in config


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
