"""Swagger UI for ``/docs``, served by the server itself from the swagger-ui-bundle package.

An air-gapped install has no CDN: the page and every asset it loads come from this origin.
"""

from __future__ import annotations

from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

SWAGGER_UI_ASSETS = "/docs/assets/"

blp = Blueprint(
    "docs_assets",
    __name__,
    static_folder=str(swagger_ui_path),
    static_url_path=SWAGGER_UI_ASSETS.rstrip("/"),
)
