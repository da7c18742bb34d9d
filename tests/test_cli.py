"""`ruong` as a user runs it: a real subprocess per command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import run_ruong, write_config


def ruong(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_ruong(*args, cwd=cwd)


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    out = ruong("--help", cwd=tmp_path).stdout
    for command in ("demo", "gateway", "serve", "node", "sim", "field", "forecast", "hw"):
        assert f"    {command} " in out


def test_config_and_verbose_work_before_and_after_any_subcommand() -> None:
    """`ruong sim --config x` and `ruong gateway --config x` as a new user types them; a value
    given before the subcommand is kept when none follows it."""
    from ruong.cli import build_parser

    parse = build_parser().parse_args
    for argv in (["sim"], ["gateway"], ["node", "list"], ["node", "flash", "--port", "p", "n"]):
        after = parse([*argv, "--config", "after.toml", "-v"])
        assert (after.config, after.verbose) == ("after.toml", True), argv
        before = parse(["--config", "before.toml", *argv])
        assert (before.config, before.verbose) == ("before.toml", False), argv
    assert parse(["--config", "a.toml", "sim", "--config", "b.toml"]).config == "b.toml"


def test_a_missing_config_after_the_subcommand_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = ruong("gateway", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"ruong gateway: config file {tmp_path / 'nope.toml'} does not exist"
    ]


def test_hw_power_passes_its_options_and_refuses_strays(tmp_path: Path) -> None:
    """`ruong hw power` is hardware.power's own parser (tested in tests/hardware)."""
    slow = ruong("hw", "power", "--interval", "3600", cwd=tmp_path)
    fast = ruong("hw", "power", "--interval", "300", cwd=tmp_path)
    assert slow.returncode == fast.returncode == 0, slow.stderr + fast.stderr

    def days(out: str) -> float:
        line = next(x for x in out.splitlines() if x.startswith("battery life, no sun"))
        return float(line.split()[-2])

    assert days(slow.stdout) > days(fast.stdout) > 0
    assert "one report every 3600 s (60 min)" in slow.stdout
    assert "usage: ruong hw power" in ruong("hw", "power", "--help", cwd=tmp_path).stdout
    bad = ruong("hw", "power", "--board", "arduino-uno", cwd=tmp_path)
    assert bad.returncode == 2 and "arduino-uno" in bad.stderr
    stray = ruong("node", "list", "--bogus", cwd=tmp_path)
    assert stray.returncode == 2 and "unrecognized arguments: --bogus" in stray.stderr


def test_provision_list_revoke(tmp_path: Path) -> None:
    config = write_config(tmp_path / "ruong.toml", registry_url=f"sqlite:///{tmp_path}/reg.db")
    done = ruong(
        "--config",
        str(config),
        "node",
        "provision",
        "--field",
        "ruong-1",
        "--transport",
        "mqtt",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    node = json.loads(done.stdout)
    assert node["node"].startswith("n") and len(bytes.fromhex(node["key"])) == 32
    assert (node["field"], node["transport"], node["revoked"]) == ("ruong-1", "mqtt", False)

    listed = json.loads(
        ruong("--config", str(config), "node", "list", "--json", cwd=tmp_path).stdout
    )
    assert [n["node"] for n in listed] == [node["node"]]
    assert "key" not in listed[0]  # keys are printed once, at provisioning

    assert (
        ruong("--config", str(config), "node", "revoke", node["node"], cwd=tmp_path).returncode == 0
    )
    listed = json.loads(
        ruong("--config", str(config), "node", "list", "--json", cwd=tmp_path).stdout
    )
    assert listed[0]["revoked"] is True


def test_user_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path / "ruong.toml", store_url="mysql://db/x")
    done = ruong("--config", str(config), "node", "list", cwd=tmp_path)
    assert done.returncode == 2
    assert "store.url" in done.stderr and "Traceback" not in done.stderr

    good = write_config(tmp_path / "ok.toml", registry_url=f"sqlite:///{tmp_path}/reg.db")
    done = ruong("--config", str(good), "node", "revoke", "n00000000", cwd=tmp_path)
    assert done.returncode == 2 and "unknown node" in done.stderr
    done = ruong(
        "--config",
        str(good),
        "node",
        "provision",
        "--field",
        "bad field!",
        "--transport",
        "coap",
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "field" in done.stderr
