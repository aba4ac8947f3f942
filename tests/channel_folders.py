"""Channel folders written for a test: file name -> YAML text (``values/...`` allowed)."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

CHART = "{url: https://charts.wandb.ai, name: operator-wandb}"


def write_folder(folder: Path, files: dict[str, str]) -> Path:
    """Replace ``folder``'s channel files with ``files`` (values files are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip())
    return folder


def publish_entry(version: str, values: str = "{app: {n: 1}}", **extra: str) -> str:
    """A release item for a ``releases:`` list (indented for it)."""
    lines = [f'  - version: "{version}"', f"    chart: {CHART}", f"    values: {values}"]
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def channel_file(name: str, *entries: str, head: str | None = None, header: str = "") -> str:
    text = f"name: {name}\n{header}releases:\n" + "".join(entries)
    if head is not None:
        text += f'head: "{head}"\n'
    return text


def promote_entry(version: str) -> str:
    return f'  - promote: "{version}"\n'
