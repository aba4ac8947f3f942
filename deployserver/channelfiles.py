"""Channel files (docs/channel-files.md): read and check a ``channels/`` folder, order its work.

Files come from a folder on disk or from an upload (``POST /api/v1/sync``), read the same way.
Nothing here touches the database: every file is read and validated before the sync starts,
so a typo in the last file never leaves the first one half-applied. The entries of all files
are then put in one order where each ``promote`` follows the publish that it names.
"""

from __future__ import annotations

import heapq
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import yaml

from deployserver.errors import DeployServerError, Invalid
from deployserver.services.channels import validate_channel_name, validate_description
from deployserver.specs.release import ReleaseSpec, release_spec
from deployserver.specs.text import validate_text
from deployserver.specs.values import compose_plain_yaml, parse_values_yaml, validate_values

FILE_KEYS = ("name", "description", "values", "releases", "head")
PUBLISH_KEYS = ("version", "chart", "values", "valuesFile", "notes", "metadata", "required")
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
    # Installations below a required release are served it before anything newer (the
    # file states the channel: not marked means not required).
    required: bool = False

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


class FolderSource:
    """Channel files on disk: ``*.yaml`` directly in ``folder``, values files below it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            raise Invalid(f"{self.folder}: not a folder of channel files", CODE)
        return sorted(path.name for path in self.folder.glob("*.yaml") if path.is_file())

    def shown(self, name: str) -> str:
        return str(self.folder / name)

    def read(self, name: str, shown: str) -> str:
        return _read(self.folder / name, shown)

    def values_text(self, raw: str) -> str:
        path = self.folder / raw
        # Resolved (``..`` and symlinks followed): channel files are reviewed for what they
        # publish, and a values file must be one of the files under review.
        if not path.resolve().is_relative_to(self.folder.resolve()):
            raise Invalid.field("valuesFile", f"{raw} is outside the channels folder {self.folder}")
        return _read(path, f"valuesFile {raw}", f" in {self.folder}")


class UploadedSource:
    """Channel files sent in a request: ``{path relative to the channels folder: text}``.

    Paths were checked at the edge (:func:`check_relative_path`); a values file is looked up
    by its normalised path, which must stay inside the uploaded folder.
    """

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)
        self.folder = "the uploaded files"

    def names(self) -> list[str]:
        return sorted(name for name in self.files if "/" not in name and name.endswith(".yaml"))

    def shown(self, name: str) -> str:
        return name

    def read(self, name: str, shown: str) -> str:
        return self.files[name]

    def values_text(self, raw: str) -> str:
        wanted = posixpath.normpath(raw)
        if wanted == ".." or wanted.startswith("../"):
            raise Invalid.field("valuesFile", f"{raw} is outside the channels folder")
        text = self.files.get(wanted)
        if text is None:
            raise Invalid(f"valuesFile {raw}: no such file in {self.folder}", CODE)
        return text


Source = FolderSource | UploadedSource


def check_relative_path(path: str) -> str | None:
    """Why ``path`` cannot name a file of an uploaded channels folder (None: it can)."""
    if not path or len(path) > 1024:
        return "must be 1 to 1024 characters"
    if "\\" in path or "\x00" in path or path.startswith("/") or PureWindowsPath(path).drive:
        return "must be a relative path with / separators"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "must not hold empty, . or .. parts"
    return None


def load_folder(folder: Path) -> list[ChannelFile]:
    """Every ``*.yaml`` file directly in ``folder``, validated, in file-name order."""
    return load_source(FolderSource(folder))


def load_uploaded(files: Mapping[str, str]) -> list[ChannelFile]:
    """The channel files of an uploaded folder, validated, in file-name order."""
    return load_source(UploadedSource(files))


def load_source(source: Source) -> list[ChannelFile]:
    names = source.names()
    if not names:
        raise Invalid(f"{source.folder}: holds no channel files (*.yaml)", CODE)
    return [load_file(source, name) for name in names]


def _read(path: Path, shown: str, where: str = "") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Invalid(f"{shown}: no such file{where}", CODE) from None
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


def load_file(source: Source, file_name: str) -> ChannelFile:
    """Read and validate one channel file; every refusal names the file and line."""
    shown = source.shown(file_name)
    stem = file_name.removesuffix(".yaml")
    data, node = _compose(source.read(file_name, shown), shown)
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
        raise Invalid(f"{shown}: name: is required (the file's name, {stem!r})", CODE)
    if name != stem:
        raise fail("name", f"{name!r} must equal the file name ({stem!r})")
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
        entry = _entry(raw, shown, name, index, line, source)
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


def _entry(raw: Any, shown: str, channel: str, index: int, line: int, source: Source) -> Entry:
    where = f"{shown}:{line}: releases[{index}]"
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: must be a release (version, chart, ...) or a promote", CODE)
    required = _required(raw, where) if isinstance(raw, dict) else False
    if "promote" in raw:
        extra = sorted(str(key) for key in raw if key not in ("promote", "required"))
        if extra:
            # ``required`` is the one field a promote may carry besides its version.
            raise Invalid(f"{where}: a promote takes no other fields ({', '.join(extra)})", CODE)
        version = _version(raw["promote"], f"{where}: promote")
        return Entry(shown, channel, index, line, version, None, required)
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
            values = _values_file(raw["valuesFile"], source)
        spec = release_spec(
            version, raw["chart"], values, None, raw.get("metadata"), raw.get("notes", "")
        )
    except DeployServerError as exc:
        raise refusal(where, exc) from None
    return Entry(shown, channel, index, line, version, spec, required)


def _required(raw: dict[str, Any], where: str) -> bool:
    flag = raw.get("required", False)
    if not isinstance(flag, bool):
        raise Invalid(f"{where}: required: must be true or false", CODE)
    return flag


def _version(raw: Any, where: str) -> str:
    if raw is None:
        raise Invalid(f"{where}: is required", CODE)
    if not isinstance(raw, str):
        raise Invalid(
            f"{where}: {raw!r} must be a quoted string (an unquoted 1.10 is read as a number)",
            CODE,
        )
    return raw


def _values_file(raw: Any, source: Source) -> dict[str, Any]:
    if not isinstance(raw, str) or not raw.strip() or Path(raw).is_absolute():
        raise Invalid.field("valuesFile", "must be a path relative to the channels folder")
    validate_text(raw, "valuesFile")
    return parse_values_yaml(source.values_text(raw), f"valuesFile {raw}")


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
