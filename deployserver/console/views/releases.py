"""Console pages: a release, the diff of two releases, and the render preview."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from deployserver.console.blueprint import bp, form_text, may, require
from deployserver.console.preview import mask_changes
from deployserver.db import get_session
from deployserver.errors import Invalid
from deployserver.extensions import state
from deployserver.services import channels, releases, render
from deployserver.specs.masking import mask_secrets
from deployserver.specs.values import load_plain_yaml

MAX_YAML = 256 * 1024


@bp.get("/releases/<ref>")
@require("viewer")
def release_page(ref: str) -> str:
    release = releases.find_release_ref(get_session(), ref[:300])
    writable = [name for name in release.channels if may("publisher", name)]
    return render_template(
        "console/release.html",
        release=release,
        chart=mask_secrets(release.chart),
        metadata=mask_secrets(release.metadata),
        values=mask_secrets(release.values),
        writable=writable,
    )


@bp.get("/diff")
@require("viewer")
def diff_page() -> str:
    first, second = request.args.get("from", "").strip(), request.args.get("to", "").strip()
    old = new = None
    changes = []
    if first and second:
        old = releases.find_release_ref(get_session(), first[:300])
        new = releases.find_release_ref(get_session(), second[:300])
        changes = mask_changes(releases.diff_releases(get_session(), old.id, new.id))
    return render_template(
        "console/diff.html", old=old, new=new, changes=changes, first=first, second=second
    )


def _yaml_object(name: str) -> dict[str, Any] | None:
    text = form_text(name, MAX_YAML)
    if not text.strip():
        return None
    data = load_plain_yaml(text, name)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise Invalid.field(name, "must be a YAML mapping")
    return data


@bp.route("/channels/<name>/render", methods=["GET", "POST"])
@require("viewer")
def render_page(name: str) -> str:
    channel = channels.get_channel(get_session(), name)
    carried = releases.list_channel_releases(get_session(), name, 100, None).items
    spec = error = None
    warnings: list[dict[str, str]] = []
    form = {"userInput": "", "crValues": "", "releaseId": ""}
    if request.method == "POST":
        form = {key: form_text(key, MAX_YAML) for key in form}
        reveal = request.form.get("reveal") == "on" and may("admin")
        try:
            rendered = render.render_spec(
                get_session(),
                name,
                render.RenderRequest(
                    release_id=form["releaseId"].strip() or None,
                    user_input=_yaml_object("userInput"),
                    cr={"values": cr} if (cr := _yaml_object("crValues")) is not None else None,
                ),
                state().config.operator_namespace,
                reveal=reveal,
            )
            spec, warnings = rendered.spec, rendered.warnings
        except Invalid as exc:
            # Shown on the form, next to what the engineer typed.
            error = exc
    return render_template(
        "console/render.html",
        channel=channel,
        releases=carried,
        form=form,
        spec=spec,
        warnings=warnings,
        error=error,
        may_reveal=may("admin"),
    )
