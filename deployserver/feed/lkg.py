"""The last-known-good store: what the server knew, kept for database outages.

Files in ``<instance>/lkg/``, shared by every worker of the host and surviving restarts.
Each is replaced atomically (write a temporary file, flush it to disk, then rename), so a
reader sees a whole old file or a whole new one, never a torn or empty one, even after a crash.
Names come partly from callers (a license's channel claim): only plain names are stored,
anything else is simply not known.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FOLDER = "lkg"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


class LastKnownGood:
    def __init__(self, instance_path: Path) -> None:
        self.root = instance_path / FOLDER

    def path(self, name: str) -> Path:
        if not _PLAIN_NAME.fullmatch(name):
            raise ValueError(f"not a store name: {name!r}")
        return self.root / name

    def write_text(self, name: str, text: str) -> None:
        """Replace ``name`` atomically; a failure is logged, never raised (best effort)."""
        try:
            target = self.path(name)
        except ValueError:
            log.warning("last-known-good store: %r is not a storable name; not kept", name)
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("last-known-good store: cannot write %s: %s", name, exc.strerror)

    def read_text(self, name: str) -> str | None:
        """The stored text, or None: never stored, not a storable name, or unreadable."""
        try:
            return self.path(name).read_text(encoding="utf-8")
        except (FileNotFoundError, ValueError):
            return None
        except OSError as exc:
            log.warning("last-known-good store: cannot read %s: %s", name, exc.strerror)
            return None

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, sort_keys=True, separators=(",", ":")))

    def read_json(self, name: str) -> Any:
        text = self.read_text(name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            log.warning("last-known-good store: %s is not valid JSON; ignored", name)
            return None
