"""The application factory and its registration steps."""

from __future__ import annotations

import logging

from flask import Flask
from flask_smorest import Api

from deployserver import db, ratelimit
from deployserver.api import BLUEPRINTS, docs
from deployserver.api.converters import register_converters
from deployserver.api.docs import SWAGGER_UI_ASSETS
from deployserver.api.openapi import ProblemResponsesPlugin, declare_security_schemes
from deployserver.api.poll import PollRoutes
from deployserver.config import Config
from deployserver.console import register_console
from deployserver.errors import register_errorhandlers
from deployserver.extensions import AppState, state
from deployserver.fleet import bus as fleet_bus
from deployserver.request_id import RequestIdMiddleware, current_request_id
from deployserver.services import keys


def create_app(config: Config | None = None) -> Flask:
    """Build the app from ``config`` (default: the environment)."""
    config = config or Config.from_env()
    config.prepare_instance()
    app = Flask("deployserver", instance_path=str(config.instance_path))
    # No Flask SECRET_KEY: the API keeps no cookie sessions, and with a key Flask would open
    # one on every request (the polling path pays for that). The server secret lives in
    # Config and seals signing keys only.
    app.config.update(
        MAX_CONTENT_LENGTH=config.max_content_length,
        TESTING=config.testing,
        API_TITLE="deployserver",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Served by the server itself (api/docs.py): /docs works with no internet access.
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_ASSETS,
        # No "validator" badge: it would send the document to another origin.
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
    )
    app.json.sort_keys = True  # type: ignore[attr-defined]
    configure_logging(config)
    register_extensions(app, config)
    register_request_hooks(app)
    register_blueprints(app)
    register_console(app)
    register_errorhandlers(app)
    register_startup(app)
    return app


def configure_logging(config: Config) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(config.log_level.upper())


class RequestIdFilter(logging.Filter):
    """Put the current request id on every log record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


def register_extensions(app: Flask, config: Config) -> None:
    engine = db.create_db_engine(config.sqlalchemy_url)
    # One Api per app: its OpenAPI document belongs to the app (tests build many apps).
    app_state = AppState(
        config=config,
        engine=engine,
        sessions=db.make_sessionmaker(engine),
        api=Api(app, spec_kwargs={"extra_plugins": [ProblemResponsesPlugin()]}),
    )
    app.extensions["deployserver"] = app_state
    fleet_bus.install(app_state)
    ratelimit.install(app, app_state)
    app.teardown_appcontext(db.close_session)


def register_request_hooks(app: Flask) -> None:
    """WSGI middleware, outermost first: request ids, then the poll ahead of Flask."""
    polls = PollRoutes(app.wsgi_app, state(app))
    app.wsgi_app = RequestIdMiddleware(polls)  # type: ignore[method-assign]


def register_blueprints(app: Flask) -> None:
    api = state(app).api
    register_converters(app, api)
    declare_security_schemes(api)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(docs.blp)


def register_startup(app: Flask) -> None:
    """What ``deployserver serve`` runs once before forking, and what ``/readyz`` checks."""
    app_state = state(app)
    app_state.startup_tasks.append(keys.ensure_signing_key)
    app_state.readiness_checks["signing_key"] = keys.signing_key_ready
