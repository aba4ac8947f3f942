"""``deployserver serve``: migrate to head, run start-up tasks, then serve with gunicorn."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from deployserver.cli.root import cli
from deployserver.config import Config
from deployserver.extensions import state
from deployserver.fleet.bus import start_listener
from deployserver.metrics import MULTIPROC_FOLDER, use_multiprocess_folder
from deployserver.startup import prepare_server


class GunicornServer(BaseApplication):
    """gunicorn with our options; each worker builds its own app after the fork."""

    def __init__(self, config: Config, options: dict[str, Any]) -> None:
        self.deployserver_config = config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            # Settings newer than the oldest gunicorn we support are skipped there.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from deployserver.app import create_app

        app = create_app(self.deployserver_config)
        # In the worker, after the fork: each worker subscribes to invalidations itself.
        start_listener(state(app))
        return app


def metrics_folder(config: Config) -> Path:
    """Empty the workers' metrics folder and point prometheus_client at it (this process
    and the workers it forks): counts of an earlier run must not be added to this one's."""
    folder = config.instance_path / MULTIPROC_FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    use_multiprocess_folder(str(folder))
    return folder


def _worker_exited(_server: Any, worker: Any) -> None:
    # A dead worker's gauges go; its counters stay in the totals, as Prometheus expects.
    multiprocess.mark_process_dead(worker.pid)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 256))
@click.option("--reload", is_flag=True, help="Restart workers when code changes (development).")
@click.option("--access-log", is_flag=True, help="Log every request (off: polls are the hot path).")
def serve(host: str, port: int, workers: int, reload: bool, access_log: bool) -> None:
    """Migrate the database to head and serve the API with gunicorn."""
    config = Config.from_env()
    config.prepare_instance()
    metrics_folder(config)
    prepare_server(config)
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "reload": reload,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": config.log_level.lower(),
        # gunicorn's control socket (gunicornc) lives with the instance, not in $HOME, so
        # two servers on one host never share one.
        "control_socket": str(config.instance_path / "gunicorn.ctl"),
        "child_exit": _worker_exited,
    }
    GunicornServer(config, options).run()
