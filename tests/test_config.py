"""Configuration from the environment, URL normalisation and the instance folder."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from deployserver.config import Config, ConfigError, normalize_database_url


def test_plain_urls_use_shipped_drivers() -> None:
    assert normalize_database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    mysql = normalize_database_url("mysql://u@h/db")
    assert mysql.drivername == "mysql+pymysql"
    assert mysql.query["charset"] == "utf8mb4"
    assert normalize_database_url("sqlite:///x.db").drivername == "sqlite"


@pytest.mark.parametrize("url", ["not a url", "oracle://u@h/db"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        normalize_database_url(url)


def test_environment_is_read_and_typed(tmp_path: Path) -> None:
    config = Config.from_env(
        {
            "DEPLOYSERVER_INSTANCE_PATH": str(tmp_path),
            "DEPLOYSERVER_ALLOW_ANONYMOUS": "false",
            "DEPLOYSERVER_LICENSE_CACHE_SECONDS": "5",
            "DEPLOYSERVER_DEFAULT_CHANNEL": "beta",
        }
    )
    assert config.allow_anonymous is False
    assert config.license_cache_seconds == 5
    assert config.default_channel == "beta"
    assert config.instance_path == tmp_path.resolve()


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALLOW_ANONYMOUS", "maybe"), ("LICENSE_CACHE_SECONDS", "soon"), ("MAX_CONTENT_LENGTH", "1")],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"DEPLOYSERVER_{name}"):
        Config.from_env({f"DEPLOYSERVER_{name}": value})


def test_default_database_is_sqlite_in_instance(tmp_path: Path) -> None:
    config = Config.from_env({"DEPLOYSERVER_INSTANCE_PATH": str(tmp_path)})
    assert config.sqlalchemy_url.database == str(tmp_path.resolve() / "deployserver.db")


def test_secret_key_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = Config.from_env({"DEPLOYSERVER_INSTANCE_PATH": str(tmp_path)})
    first.prepare_instance()
    secret_file = tmp_path / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    second = Config.from_env({"DEPLOYSERVER_INSTANCE_PATH": str(tmp_path)})
    second.prepare_instance()
    assert first.secret_key and first.secret_key == second.secret_key


def test_unwritable_instance_folder_is_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = Config.from_env({"DEPLOYSERVER_INSTANCE_PATH": str(blocker / "instance")})
    with pytest.raises(ConfigError, match="not writable"):
        config.prepare_instance()
