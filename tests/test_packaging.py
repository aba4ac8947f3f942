"""An installed deployserver is whole: a built wheel, not this checkout, migrates a database.

The wheel is built from a copy of the sources and installed, not editable, into a fresh
virtualenv. Its dependencies come from the test run's own environment (a path entry, not an
install, so the test needs no network); ``deployserver`` itself is only the installed copy.
``deployserver db upgrade`` then runs from a folder unrelated to the sources.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.servers import cli_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# Revisions that every later version ships too.
SHIPPED_REVISIONS = {"0001_core_tables", "0002_rollouts_installations"}


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def build_wheel(into: Path, scratch: Path) -> Path:
    source = scratch / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(ROOT / "deployserver", source / "deployserver", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", into, source,
        cwd=scratch,
    )  # fmt: skip
    (wheel,) = into.glob("deployserver-*.whl")
    return wheel


def fresh_venv(folder: Path) -> Path:
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    site_packages = run(
        python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=folder
    ).strip()
    # The test run's dependencies, visible after the venv's own packages. A plain path entry
    # in a .pth file: the test environment's own .pth files (its editable deployserver) are
    # not processed, so `import deployserver` can only find the installed wheel.
    (Path(site_packages) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"])
    return python


def test_installed_wheel_migrates_from_any_folder(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", tmp_path)
    python = fresh_venv(tmp_path / "venv")
    # This run's pip installs into the venv (ensurepip would double the test's time).
    run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
        "--no-index", "--no-compile", wheel,
        cwd=tmp_path,
    )  # fmt: skip

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = cli_env(elsewhere / "instance")
    env.pop("PYTHONPATH", None)  # nothing may lead back to the sources
    where = run(
        python, "-c", "import deployserver; print(deployserver.__file__)", cwd=elsewhere, env=env
    )
    assert Path(where.strip()).is_relative_to(tmp_path / "venv"), where
    shipped = {
        path.name for path in (Path(where.strip()).parent / "migrations" / "versions").glob("*.py")
    }
    assert {f"{revision}.py" for revision in SHIPPED_REVISIONS} <= shipped

    run(tmp_path / "venv" / "bin" / "deployserver", "db", "upgrade", cwd=elsewhere, env=env)

    database = elsewhere / "instance" / "deployserver.db"
    with sqlite3.connect(database) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    # Revisions are named after their number: the newest file is the head.
    assert version == max(shipped).removesuffix(".py")
    assert {"channels", "releases", "licenses", "signing_keys", "installations"} <= tables
