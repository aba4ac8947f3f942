"""Configuration: one class read from ``DEPLOYSERVER_*`` environment variables.

Every setting is documented in the README's configuration table. The instance folder holds
the embedded SQLite database, the generated secret key and the last-known-good store, and is
shared by the server and the CLI.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from limits import parse_many
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

PREFIX = "DEPLOYSERVER_"
SECRET_KEY_FILE = "secret_key"


class ConfigError(Exception):
    """A setting is missing, unparsable or unusable; the message is meant for the operator."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{PREFIX}{name} must be true or false, not {raw!r}")


def _int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name} must be at least {minimum}, not {value}")
    return value


def _rate(name: str, raw: str) -> str:
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a rate such as 60/minute, not {raw!r}") from None
    return raw


def _prefix(name: str, raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", raw):
        raise ConfigError(
            f"{PREFIX}{name} must be 1 to 64 letters, digits or _.:- characters, not {raw!r}"
        )
    return raw


def default_instance_path() -> Path:
    """The instance folder when none is configured: ``./instance`` of the working directory."""
    return Path.cwd() / "instance"


def normalize_database_url(raw: str) -> URL:
    """Map the plain URLs users write onto the drivers we ship.

    ``postgresql://`` uses psycopg 3 and ``mysql://`` (or ``mariadb://``) uses PyMySQL, so a
    user changes the URL and nothing else.
    """
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"{PREFIX}DATABASE_URL is not a database URL: {raw!r}") from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    elif backend in {"mysql", "mariadb"}:
        url = url.set(drivername="mysql+pymysql")
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
    elif backend != "sqlite":
        raise ConfigError(
            f"{PREFIX}DATABASE_URL must be a sqlite://, postgresql:// or mysql:// URL, "
            f"not {backend}://"
        )
    return url


@dataclass
class Config:
    """All settings of a server or CLI process. Build it with :meth:`from_env`."""

    instance_path: Path = field(default_factory=default_instance_path)
    database_url: str = ""
    secret_key: str = ""
    issuer: str = "deployserver"
    audience: str = "wandb-operator"
    default_channel: str = "stable"
    allow_anonymous: bool = True
    license_cache_seconds: int = 30
    license_cache_entries: int = 100_000
    license_leeway_seconds: int = 60
    license_default_ttl_days: int = 365
    max_content_length: int = 1024 * 1024
    # POST /api/v1/sync carries a whole channels folder: its own, larger body limit.
    sync_max_bytes: int = 16 * 1024 * 1024
    operator_namespace: str = "wandb"
    redis_url: str = ""
    # Names this deployment's Redis keys and channel, so several may share one Redis.
    redis_prefix: str = "deployserver"
    # GET /metrics without a bearer token (deployserver/api/metrics.py).
    metrics_public: bool = False
    # Refused license attempts and unknown bearer tokens per client address
    # (deployserver/ratelimit.py), in Flask-Limiter's notation.
    rate_license_failures: str = "60/minute"
    rate_auth_failures: str = "30/minute"
    log_level: str = "INFO"
    # Installation insights (deployserver/feed/recorder.py).
    installation_flush_seconds: int = 10
    installation_retention_days: int = 180
    installation_buffer_entries: int = 100_000
    # Proxies in front of the server whose X-Forwarded-For entries are believed (0: none).
    trusted_proxies: int = 0
    # Installation policies: how long a required release is served before the next step.
    required_dwell_seconds: int = 600
    # Console sessions end after this many minutes without a request.
    console_session_minutes: int = 720
    testing: bool = False

    # name -> (parser); the environment variable is PREFIX + name.upper()
    _PARSERS = {
        "license_cache_seconds": lambda n, v: _int(n, v, 0),
        "license_cache_entries": lambda n, v: _int(n, v, 1),
        "license_leeway_seconds": lambda n, v: _int(n, v, 0),
        "license_default_ttl_days": lambda n, v: _int(n, v, 1),
        "max_content_length": lambda n, v: _int(n, v, 1024),
        "sync_max_bytes": lambda n, v: _int(n, v, 1024),
        "installation_flush_seconds": lambda n, v: _int(n, v, 1),
        "installation_retention_days": lambda n, v: _int(n, v, 1),
        "installation_buffer_entries": lambda n, v: _int(n, v, 1),
        "trusted_proxies": lambda n, v: _int(n, v, 0),
        "required_dwell_seconds": lambda n, v: _int(n, v, 0),
        "console_session_minutes": lambda n, v: _int(n, v, 1),
        "allow_anonymous": _bool,
        "metrics_public": _bool,
        "rate_license_failures": lambda n, v: _rate(n, v),
        "rate_auth_failures": lambda n, v: _rate(n, v),
        "redis_prefix": lambda n, v: _prefix(n, v),
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Config:
        """Read every ``DEPLOYSERVER_*`` variable; ``overrides`` win (tests use them)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            parser = cls._PARSERS.get(f.name)
            if f.name == "instance_path":
                values[f.name] = Path(raw)
            elif parser is not None:
                values[f.name] = parser(f.name.upper(), raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        config = cls(**values)  # type: ignore[arg-type]
        config.instance_path = Path(config.instance_path).resolve()
        return config

    @property
    def sqlalchemy_url(self) -> URL:
        raw = self.database_url or f"sqlite:///{self.instance_path / 'deployserver.db'}"
        return normalize_database_url(raw)

    def prepare_instance(self) -> None:
        """Create the instance folder and, when no secret is configured, load or generate one.

        The generated secret encrypts signing keys at rest, so it is written once with mode
        0600 and reused by every later start and by the CLI.
        """
        try:
            self.instance_path.mkdir(parents=True, exist_ok=True)
            probe = self.instance_path / ".write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"instance folder {self.instance_path} is not writable: {exc.strerror}"
            ) from None
        if self.secret_key:
            return
        path = self.instance_path / SECRET_KEY_FILE
        if path.exists():
            self.secret_key = path.read_text().strip()
            return
        # Written to a private temporary file and linked into place, so a concurrent start
        # (a second worker, the CLI) sees either no secret or the whole one.
        tmp = self.instance_path / f".{SECRET_KEY_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        self.secret_key = path.read_text().strip()
