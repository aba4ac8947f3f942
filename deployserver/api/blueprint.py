"""The Blueprint every API module uses: flask-smorest's, with our request-body parser."""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from deployserver.errors import Invalid, UnsupportedMediaType
from deployserver.specs.plain import MAX_DEPTH, parse_int


class ArgumentsParser(FlaskParser):
    """webargs' Flask parser with the body rules of API.md (conventions):

    - a body sent as anything but JSON is refused (415), not read as "no fields given";
    - a chunked body (no Content-Length) over the limit is refused (413): Werkzeug's stream
      stops at the limit silently, and the cut body would read as malformed JSON;
    - integers of more than 400 digits stay unconverted (:mod:`deployserver.specs.plain`), so
      the field holding one is named instead of Python's int limit failing the whole parse;
    - JSON nested too deeply for the parser (its recursion, about 1,000 levels) is refused
      as such (422 NESTING_TOO_DEEP), not as malformed JSON.
    """

    def _raw_load_json(self, req: flask.Request) -> Any:
        body = _read_body(req)
        if not is_json_request(req):
            if body.strip():
                raise UnsupportedMediaType(
                    "send the request body as JSON with Content-Type: application/json"
                )
            return core.missing
        try:
            return json.loads(body.decode("utf-8"), parse_int=parse_int)
        except UnicodeDecodeError as exc:
            error = json.JSONDecodeError(f"not UTF-8: {exc.reason}", "", exc.start)
            self._handle_invalid_json_error(error, req)
        except json.JSONDecodeError as exc:
            self._handle_invalid_json_error(exc, req)
        except RecursionError:
            message = f"is nested too deeply to read (values may nest at most {MAX_DEPTH} levels)"
            raise Invalid(
                f"the request body {message}", "NESTING_TOO_DEEP", errors={"json": [message]}
            ) from None


def _read_body(req: flask.Request) -> bytes:
    body = req.get_data(cache=True)
    limit = req.max_content_length
    # A chunked stream stops at the limit; one more byte on the wire means the body is over.
    chunked = req.content_length is None and limit is not None
    if chunked and len(body) >= limit and req.environ["wsgi.input"].read(1):  # type: ignore[operator]
        raise RequestEntityTooLarge()
    return body


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ArgumentsParser()
