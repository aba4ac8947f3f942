"""The Blueprint every API module uses: flask-smorest's, with our request-body parser."""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from webargs.flaskparser import FlaskParser


class ArgumentsParser(FlaskParser):
    """webargs' Flask parser that also refuses JSON nested too deeply to parse.

    Python's JSON parser recurses per level and raises RecursionError on a body such as
    ``[[[[...]]]]``; unhandled, that would be a 500 with a traceback for any caller, the
    unauthenticated validate endpoint included. It is malformed input: 400.
    """

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            error = json.JSONDecodeError("nested too deeply", "", 0)
            self._handle_invalid_json_error(error, req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()
