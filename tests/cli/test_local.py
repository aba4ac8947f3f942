"""On the server host the client commands answer from the local instance, as the local user."""

from __future__ import annotations

import getpass
import json

import yaml

from tests.cli.conftest import Invoke, assert_one_line_error

REPO = ["--chart-url", "https://charts.wandb.ai", "--chart-name", "operator-wandb"]


def test_client_commands_work_locally(invoke: Invoke) -> None:
    me = json.loads(invoke("whoami", "-o", "json").stdout)
    assert me == {"id": None, "name": f"cli:{getpass.getuser()}", "role": "admin", "channels": None}
    assert invoke("channels", "create", "stable", "--set", "global.a=1").exit_code == 0
    assert invoke("channels", "create", "empty").exit_code == 0
    listed = invoke("channels", "list").stdout.splitlines()
    assert listed[0].split()[:2] == ["NAME", "HEAD"]
    assert [line.split()[0] for line in listed[1:]] == ["empty", "stable"]
    assert invoke("publish", "stable", "--version", "1.0.0", *REPO, "--set", "x=1").exit_code == 0
    changed = invoke("channels", "set-values", "stable", "--set", "global.b=1")
    assert changed.exit_code == 0, changed.output
    assert "warning: KEY_REMOVED global.a: number -> (removed)" in changed.stderr
    shown = yaml.safe_load(invoke("channels", "show", "stable", "-o", "yaml").stdout)
    assert shown["values"] == {"global": {"b": 1}} and shown["head"]["version"] == "1.0.0"
    history = json.loads(invoke("history", "stable", "--json").stdout)
    assert [(h["action"], h["version"], h["actor"]) for h in history] == [
        ("publish", "1.0.0", me["name"])
    ]
    assert json.loads(invoke("releases", "list", "stable", "--json").stdout)[0]["version"] == (
        "1.0.0"
    )
    assert yaml.safe_load(invoke("releases", "show", "1.0.0", "-o", "yaml").stdout)["values"] == {
        "x": 1
    }
    assert me["name"] in invoke("audit").stdout
    assert invoke("installations", "list").stdout.startswith("LICENSE")
    assert json.loads(invoke("adoption", "stable", "--json").stdout)["releases"][0]["active"] == 0
    assert invoke("channels", "delete", "empty").stdout == "deleted channel empty\n"
    assert_one_line_error(invoke("channels", "delete", "stable"), "CHANNEL_NOT_EMPTY")
    refused = invoke("channels", "show", "empty")
    assert refused.exit_code == 2
    assert_one_line_error(refused, "CHANNEL_NOT_FOUND")
