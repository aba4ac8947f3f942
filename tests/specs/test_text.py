"""Text every backend can store: NUL and lone surrogates are refused naming the field."""

from __future__ import annotations

import pytest

from deployserver.errors import Invalid
from deployserver.specs.text import unstorable, validate_text


@pytest.mark.parametrize("text", ["", "plain", "ünïcödé", "emoji \U0001f680", "tab\tnew\nline"])
def test_storable_text_passes(text: str) -> None:
    assert unstorable(text) is None
    assert validate_text(text, "f") == text


@pytest.mark.parametrize(
    ("text", "named"),
    [("a\x00b", "NUL"), ("\ud800", "\\ud800"), ("x\udfff", "\\udfff"), ("\ud83d", "surrogate")],
)
def test_unstorable_text_is_422_naming_the_field(text: str, named: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate_text(text, "notes")
    assert refused.value.status == 422
    assert list(refused.value.errors or {}) == ["notes"]
    assert named in str(refused.value)
