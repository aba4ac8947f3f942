"""The saved login: server URL and token in ``$XDG_CONFIG_HOME/deployserver/config.toml``.

Written with mode 0600 (it holds a bearer token), replaced atomically, read with tomllib.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from deployserver.cli.client import Refusal


@dataclass(frozen=True)
class Profile:
    url: str
    token: str


def profile_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "deployserver" / "config.toml"


def load_profile() -> Profile | None:
    path = profile_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise Refusal(f"{path}: cannot be read ({exc}); `deployserver logout` removes it") from None
    url, token = data.get("url"), data.get("token")
    if not isinstance(url, str) or not isinstance(token, str):
        raise Refusal(f"{path}: needs url and token; `deployserver login URL` writes it")
    return Profile(url, token)


def save_profile(profile: Profile) -> Path:
    path = profile_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # JSON strings are TOML basic strings for the characters a URL or a token holds.
    text = f"url = {json.dumps(profile.url)}\ntoken = {json.dumps(profile.token)}\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return path


def remove_profile() -> Path | None:
    path = profile_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
