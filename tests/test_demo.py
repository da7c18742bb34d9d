"""`ruong demo --exit-after`: starts the real services, shows readings, stops cleanly, exit 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from forecasting.model import train
from forecasting.outlook import NO_RAIN_OUTLOOK, OutlookError
from ruong.services import free_port

pytestmark = [pytest.mark.services, pytest.mark.micropython]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small soil-moisture models, so the demo's first forecast does not train a full one: the
    demo's forecasts have its local weather source (the forecast outlook), the no-rain one is
    for when that source fails."""
    directory = tmp_path_factory.mktemp("models")
    train(seasons=4, seed=3, error=NO_RAIN_OUTLOOK).save(directory)
    train(seasons=4, seed=3, error=OutlookError()).save(directory)
    return directory


@pytest.mark.parametrize(
    ("embedded", "speed"),
    [(False, 1), (True, 360)],
    ids=["influxd+mosquitto", "sqlite+amqtt-speed-360"],
)
def test_demo_runs_and_exits_by_itself(
    tmp_path: Path, embedded: bool, speed: int, model_dir: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "RUONG_DASHBOARD_BIND": f"http://127.0.0.1:{port}",
        "RUONG_FORECAST_MODEL_DIR": str(model_dir),
        "PYTHONUNBUFFERED": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruong.cli",
            "demo",
            "--exit-after",
            "20",
            "--nodes",
            "2",
            "--interval",
            "3",
            "--data-dir",
            str(tmp_path / "data"),
            "--speed",
            str(speed),
        ]
        + (["--embedded"] if embedded else []),
        capture_output=True,
        text=True,
        check=False,
        timeout=150,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"http://127.0.0.1:{port}/" in done.stdout
    assert ("embedded SQLite store" in done.stdout) == embedded
    assert ("embedded amqtt broker" in done.stdout) == embedded
    reporting = re.findall(r"node (n[0-9a-f]{8}) \(ruong-\d\): (\d+) values", done.stdout)
    assert len(reporting) == 2 and all(int(n) >= 8 for _, n in reporting), done.stdout
    # crops in season today, with simulated history, and the first forecasts written
    planted = re.findall(
        r"field ruong-\d: .+, planted \d{4}-\d\d-\d\d, (\d+) readings", done.stdout
    )
    assert len(planted) == 2 and all(int(h) >= 300 for h in planted), done.stdout
    # the forecast watch told the console each field's advice, with its reading's time
    told = re.findall(r"\] advice (ruong-\d) \S+ level \S+: .+ \(from the reading at ", done.stdout)
    assert {f for f in told} == {"ruong-1", "ruong-2"}, done.stdout
    advice = re.search(r"advice changes: (\d+); .+; (\d+) pieces of advice", done.stdout)
    assert advice and int(advice[1]) >= 2 and int(advice[2]) >= 2, done.stdout
    if speed > 1:  # 20 real s at 360x: the nodes' samples span more than a site hour
        assert "simulated clock: 360x" in done.stdout
    assert "Ruộng demo stopped." in done.stdout
    # every live uplink reached the store: none refused (e.g. a field typed otherwise by the
    # seeded history), so the live readings continue the history's series
    gateway_log = (tmp_path / "data" / "logs" / "gateway.log").read_text()
    assert "store refused" not in gateway_log and "spool.dead" not in gateway_log
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == [], "the demo left processes running"
