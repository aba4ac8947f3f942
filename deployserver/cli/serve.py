"""``deployserver serve``: migrate to head, run start-up tasks, then serve with gunicorn.

The server stack is imported when the command runs, not when the CLI starts.
"""

from __future__ import annotations

from typing import Any

import click

from deployserver.cli.root import cli


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 256))
@click.option("--reload", is_flag=True, help="Restart workers when code changes (development).")
@click.option("--access-log", is_flag=True, help="Log every request (off: polls are the hot path).")
def serve(host: str, port: int, workers: int, reload: bool, access_log: bool) -> None:
    """Migrate the database to head and serve the API with gunicorn."""
    from deployserver.cli.gunicorn import GunicornServer
    from deployserver.cli.local import one_line_errors
    from deployserver.config import Config
    from deployserver.startup import prepare_server

    with one_line_errors():
        config = Config.from_env()
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
    }
    GunicornServer(config, options).run()
