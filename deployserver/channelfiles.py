"""Channel files (API.md section 6): read and check a ``channels/`` folder, order its work.

Nothing here touches the database: every file is read and validated before the sync starts,
so a typo in the last file never leaves the first one half-applied. The entries of all files
are then put in one order where each ``promote`` follows the publish that it names.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deployserver.errors import DeployServerError, Invalid
from deployserver.services.channels import validate_channel_name, validate_description
from deployserver.specs.release import ReleaseSpec, release_spec
from deployserver.specs.text import validate_text
from deployserver.specs.values import compose_plain_yaml, parse_values_yaml, validate_values

FILE_KEYS = ("name", "description", "values", "releases", "head")
PUBLISH_KEYS = ("version", "chart", "values", "valuesFile", "notes", "metadata")
CODE = "CHANNEL_FILE_INVALID"


def refusal(where: str, exc: DeployServerError) -> DeployServerError:
    """``exc`` again (same class, code and field errors), its detail prefixed by ``where``."""
    return type(exc)(f"{where}: {exc.detail}", exc.code, errors=exc.errors)


@dataclass(frozen=True)
class Entry:
    """One item of a file's ``releases``: a publish (with its validated spec) or a promote."""

    file: str
    channel: str
    index: int
    line: int
    version: str
    spec: ReleaseSpec | None

    @property
    def kind(self) -> str:
        return "promote" if self.spec is None else "publish"

    @property
    def where(self) -> str:
        """How error messages name the entry: file, line, position and what it does."""
        return f"{self.file}:{self.line}: releases[{self.index}] ({self.kind} {self.version})"


@dataclass(frozen=True)
class HeadMove:
    """The last step of a file: move the channel's head to the file's ``head``."""

    file: str
    channel: str
    line: int
    version: str
    listed: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}: head {self.version}"


@dataclass(frozen=True)
class ChannelFile:
    """A validated channel file. An absent description or values mean empty ones."""

    file: str
    name: str
    description: str
    values: dict[str, Any]
    values_line: int
    entries: tuple[Entry, ...]
    head: HeadMove | None


Step = Entry | HeadMove


def load_folder(folder: Path) -> list[ChannelFile]:
    """Every ``*.yaml`` file directly in ``folder``, validated, in file-name order."""
    if not folder.is_dir():
        raise Invalid(f"{folder}: not a folder of channel files", CODE)
    paths = sorted(path for path in folder.glob("*.yaml") if path.is_file())
    if not paths:
        raise Invalid(f"{folder}: holds no channel files (*.yaml)", CODE)
    return [load_file(path, folder) for path in paths]


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Invalid(f"{shown}: no such file", CODE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"{shown}: cannot be read: {exc}", CODE) from None


def _compose(text: str, shown: str) -> tuple[Any, yaml.Node | None]:
    """The YAML document as plain data and as nodes (nodes carry the line numbers)."""
    try:
        return compose_plain_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise Invalid(f"{shown}: {where}{exc.problem or exc.context}", CODE) from None
    except yaml.YAMLError as exc:
        raise Invalid(f"{shown}: is not valid YAML: {exc}", CODE) from None


def _key_lines(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def load_file(path: Path, folder: Path) -> ChannelFile:
    """Read and validate one channel file; every refusal names the file and line."""
    shown = str(path)
    data, node = _compose(_read(path, shown), shown)
    if not isinstance(data, dict):
        raise Invalid(f"{shown}: must be a mapping with name, releases and head", CODE)
    nodes = _key_lines(node)

    def fail(key: str, message: str) -> Invalid:
        return Invalid(f"{shown}:{_line(nodes.get(key, node))}: {key}: {message}", CODE)

    for key in data:
        if key not in FILE_KEYS:
            raise fail(str(key), f"is not a field of a channel file ({', '.join(FILE_KEYS)})")
    name = data.get("name")
    if name is None:
        raise Invalid(f"{shown}: name: is required (the file's name, {path.stem!r})", CODE)
    if name != path.stem:
        raise fail("name", f"{name!r} must equal the file name ({path.stem!r})")
    try:
        validate_channel_name(name)
        description = validate_description(data.get("description", ""))
        values = data.get("values")
        values = validate_values({} if values is None else values, "values")
    except DeployServerError as exc:
        raise refusal(f"{shown}", exc) from None

    raw_entries = data.get("releases") or []
    if not isinstance(raw_entries, list):
        raise fail("releases", "must be a list of releases (oldest first)")
    entry_nodes = nodes.get("releases")
    item_nodes = entry_nodes.value if isinstance(entry_nodes, yaml.SequenceNode) else []
    entries: list[Entry] = []
    seen: dict[str, Entry] = {}
    for index, raw in enumerate(raw_entries):
        line = _line(item_nodes[index] if index < len(item_nodes) else node)
        entry = _entry(raw, shown, name, index, line, folder)
        if entry.version in seen:
            raise Invalid(
                f"{entry.where}: {entry.version} is already listed at "
                f"releases[{seen[entry.version].index}]",
                CODE,
            )
        seen[entry.version] = entry
        entries.append(entry)

    head = None
    wanted = data.get("head")
    if wanted is not None:
        if not isinstance(wanted, str):
            raise fail("head", "must be a quoted version string (an unquoted 1.10 is a number)")
        if wanted not in seen:
            raise fail("head", f"{wanted} is not listed in releases")
    elif entries:
        wanted = entries[-1].version
    if wanted is not None:
        head = HeadMove(
            file=shown,
            channel=name,
            line=_line(nodes.get("head", item_nodes[-1] if item_nodes else node)),
            version=wanted,
            listed=tuple(entry.version for entry in entries),
        )
    return ChannelFile(
        file=shown,
        name=name,
        description=description,
        values=values,
        values_line=_line(nodes.get("values", node)),
        entries=tuple(entries),
        head=head,
    )


def _entry(raw: Any, shown: str, channel: str, index: int, line: int, folder: Path) -> Entry:
    where = f"{shown}:{line}: releases[{index}]"
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: must be a release (version, chart, ...) or a promote", CODE)
    if "promote" in raw:
        extra = sorted(str(key) for key in raw if key != "promote")
        if extra:
            raise Invalid(f"{where}: a promote takes no other fields ({', '.join(extra)})", CODE)
        version = _version(raw["promote"], f"{where}: promote")
        return Entry(shown, channel, index, line, version, None)
    for key in raw:
        if key not in PUBLISH_KEYS:
            raise Invalid(
                f"{where}: {key}: is not a field of a release ({', '.join(PUBLISH_KEYS)}, "
                "or promote alone)",
                CODE,
            )
    version = _version(raw.get("version"), f"{where}: version")
    where = f"{where} (publish {version})"
    if "chart" not in raw:
        raise Invalid(f"{where}: chart: is required", CODE)
    values = raw.get("values")
    try:
        if "valuesFile" in raw:
            if "values" in raw:
                raise Invalid.field("valuesFile", "give either values or valuesFile, not both")
            values = _values_file(raw["valuesFile"], folder)
        spec = release_spec(
            version, raw["chart"], values, None, raw.get("metadata"), raw.get("notes", "")
        )
    except DeployServerError as exc:
        raise refusal(where, exc) from None
    return Entry(shown, channel, index, line, version, spec)


def _version(raw: Any, where: str) -> str:
    if raw is None:
        raise Invalid(f"{where}: is required", CODE)
    if not isinstance(raw, str):
        raise Invalid(
            f"{where}: {raw!r} must be a quoted string (an unquoted 1.10 is read as a number)",
            CODE,
        )
    return raw


def _values_file(raw: Any, folder: Path) -> dict[str, Any]:
    if not isinstance(raw, str) or not raw.strip() or Path(raw).is_absolute():
        raise Invalid.field("valuesFile", "must be a path relative to the channels folder")
    validate_text(raw, "valuesFile")
    path = folder / raw
    # Resolved (``..`` and symlinks followed): channel files are reviewed for what they
    # publish, and a values file must be one of the files under review.
    if not path.resolve().is_relative_to(folder.resolve()):
        raise Invalid.field("valuesFile", f"{raw} is outside the channels folder {folder}")
    shown = f"valuesFile {raw}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Invalid(f"{shown}: no such file in {folder}", CODE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"{shown}: cannot be read: {exc}", CODE) from None
    return parse_values_yaml(text, shown)


def plan_order(files: list[ChannelFile]) -> list[Step]:
    """Every entry and head move of ``files``, each ``promote`` after the publish it names.

    Within a file the order is the file's. Across files the earliest file (by name) goes
    first whenever more than one step is ready, so the same files always give the same
    order. A ``promote`` of a version that no file publishes depends on nothing here (it
    must exist on the server). Two files publishing one version, or promotes that wait on
    each other in a circle, are refused.
    """
    publishers: dict[str, Entry] = {}
    for channel_file in files:
        for entry in channel_file.entries:
            if entry.spec is None:
                continue
            first = publishers.get(entry.version)
            if first is not None:
                raise Invalid(
                    f"{entry.where}: {entry.version} is also published by {first.where}; "
                    "publish it in one file and promote it in the others",
                    CODE,
                )
            publishers[entry.version] = entry

    # Steps are numbered (file position, step position); the head move comes last in a file.
    steps: dict[tuple[int, int], Step] = {}
    waits_on: dict[tuple[int, int], set[tuple[int, int]]] = {}
    key_of: dict[int, tuple[int, int]] = {}
    for f, channel_file in enumerate(files):
        chain: list[Step] = list(channel_file.entries)
        if channel_file.head is not None:
            chain.append(channel_file.head)
        for s, step in enumerate(chain):
            key = (f, s)
            steps[key] = step
            key_of[id(step)] = key
            waits_on[key] = {(f, s - 1)} if s else set()
    for key, step in steps.items():
        if isinstance(step, Entry) and step.spec is None and step.version in publishers:
            waits_on[key].add(key_of[id(publishers[step.version])])

    unlocks: dict[tuple[int, int], list[tuple[int, int]]] = {key: [] for key in steps}
    for key, needs in waits_on.items():
        for need in needs:
            unlocks[need].append(key)
    pending = {key: len(needs) for key, needs in waits_on.items()}
    ready = [key for key, count in pending.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[Step] = []
    while ready:
        key = heapq.heappop(ready)
        ordered.append(steps[key])
        for later in unlocks[key]:
            pending[later] -= 1
            if pending[later] == 0:
                heapq.heappush(ready, later)
    if len(ordered) < len(steps):
        stuck = [
            steps[key] for key in sorted(steps) if pending[key] and isinstance(steps[key], Entry)
        ]
        promotes = [step for step in stuck if isinstance(step, Entry) and step.spec is None]
        named = "; ".join(step.where for step in promotes or stuck)
        raise Invalid(f"promotes wait on each other in a circle: {named}", CODE)
    return ordered
