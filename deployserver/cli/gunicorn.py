"""gunicorn as ``deployserver serve`` runs it: our options, one app per worker."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from deployserver.app import create_app
from deployserver.config import Config
from deployserver.extensions import state
from deployserver.fleet.bus import start_listener
from deployserver.metrics import MULTIPROC_FOLDER, use_multiprocess_folder


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


def worker_exited(_server: Any, worker: Any) -> None:
    # A dead worker's gauges go; its counters stay in the totals, as Prometheus expects.
    multiprocess.mark_process_dead(worker.pid)
