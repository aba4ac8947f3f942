"""``deployserver serve``: migrate to head, run start-up tasks, seed, then serve with gunicorn.

The server stack is imported when the command runs, not when the CLI starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deployserver.cli.root import cli

WORKER_CLASS = "deployserver.worker.DeployServerWorker"
WORKER_CONNECTIONS = 2000
MAX_HEADER_FIELD = 24 * 1024
MAX_HEADER_FIELDS = 50


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 256))
@click.option("--reload", is_flag=True, help="Restart workers when code changes (development).")
@click.option("--access-log", is_flag=True, help="Log every request (off: polls are the hot path).")
@click.option(
    "--seed",
    "seed_folder",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Before serving, seed from this folder of channel files: create what is missing, "
    "give a head only to channels without one; never move a head or rewrite a channel.",
)
def serve(
    host: str, port: int, workers: int, reload: bool, access_log: bool, seed_folder: Path | None
) -> None:
    """Migrate the database to head and serve the API with gunicorn."""
    from deployserver.channelfiles import load_folder
    from deployserver.cli.gunicorn import GunicornServer, metrics_folder, worker_exited
    from deployserver.cli.local import app_context, cli_actor, one_line_errors
    from deployserver.config import Config
    from deployserver.db import get_session
    from deployserver.services.sync import sync_channels
    from deployserver.startup import prepare_server

    with one_line_errors():
        config = Config.from_env()
        # Channel files are read and validated before the database is touched.
        files = load_folder(seed_folder) if seed_folder is not None else None
        prepare_server(config)
        metrics_folder(config)
    if files is not None:
        with app_context():
            seeded = sync_channels(get_session(), cli_actor(), files, seed=True)
        for action in seeded.actions:
            click.echo(f"seed: {action.line}")
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": WORKER_CLASS,
        # Connections a worker holds at once (greenlets; idle ones close after `keepalive`).
        "worker_connections": WORKER_CONNECTIONS,
        "reload": reload,
        "timeout": 60,
        "graceful_timeout": 20,
        # Also the time a client has to send a whole request head (gevent's timeout_ctx).
        "keepalive": 5,
        # The largest license we accept (16 KiB) as Basic credentials is a ~22 KB header;
        # fewer header fields than gunicorn's 100 keep a request head's buffer near its
        # default (fields x field size).
        "limit_request_field_size": MAX_HEADER_FIELD,
        "limit_request_fields": MAX_HEADER_FIELDS,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": config.log_level.lower(),
        # gunicorn's control socket (gunicornc) lives with the instance, not in $HOME, so
        # two servers on one host never share one.
        "control_socket": str(config.instance_path / "gunicorn.ctl"),
        "child_exit": worker_exited,
    }
    GunicornServer(config, options).run()
