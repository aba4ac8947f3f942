"""gunicorn as ``deployserver serve`` runs it: our options, one app per worker."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from deployserver.app import create_app
from deployserver.config import Config


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
        return create_app(self.deployserver_config)
