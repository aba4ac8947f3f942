"""The console: server-rendered pages for release engineers at ``/console/`` (API.md §8).

Same services and role rules as the REST API, a server-side session instead of a bearer
header, and nothing loaded from another origin (the one script, htmx, is vendored in
``static/`` with its version in its name).
"""

from __future__ import annotations

from flask import Flask


def register_console(app: Flask) -> None:
    from deployserver.console import views  # noqa: F401  (registers the routes)
    from deployserver.console.blueprint import bp
    from deployserver.console.formatting import register_filters

    register_filters(app)
    app.register_blueprint(bp)
