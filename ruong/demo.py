"""`ruong demo`: the whole chain on one machine, as separate processes an operator would run.

Starts, under `--data-dir` (default ./ruong-data):
- InfluxDB (`influxd`, when installed; otherwise the embedded SQLite store),
- an MQTT broker (`mosquitto`, when installed, with a password file and an ACL: the gateway
  and each node log in with their own account; otherwise the embedded amqtt broker, anonymous),
- `ruong gateway` and `ruong serve` with a generated config,
- N simulated nodes, each the real firmware on the MicroPython unix port,
- `ruong forecast run` at start and every `FORECAST_EVERY_S`, on fields planted with a crop in
  season and two weeks of simulated history (ruong.demo_history), so the dashboard shows
  irrigation and pest advice from the first minute.
Prints the dashboard URL, runs until Ctrl-C or `--exit-after`, then stops everything it started,
newest first, and exits 0. A child that dies early stops the demo with its log tail and exit 1.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pandas as pd

from backend import db
from backend.config import Settings, render_toml
from backend.node_health import latest_by_node
from backend.registry import Registry
from backend.store import open_store
from dashboard.data import latest_forecasts
from ruong.demo_history import HISTORY_DAYS, seed_history
from ruong.demo_people import ROLE_NAMES, seed_people
from ruong.services import (
    ManagedProcess,
    MosquittoServer,
    ServiceError,
    find_binary,
    free_port,
    spawn,
    start_influxd,
    start_mosquitto,
)
from ruong.sim import NodeProcess, ensure_nodes, start_node

READY_TIMEOUT_S = 60.0
FORECAST_EVERY_S = 600.0


def _ruong(*args: str) -> list[str]:
    """argv running the `ruong` command of this very installation."""
    return [sys.executable, "-m", "ruong.cli", *args]


def _wait_for_http(child: ManagedProcess, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        child.check_alive()
        try:
            # a page, or one reached by a redirect (the dashboard's login page)
            if httpx.get(url, timeout=1.0, follow_redirects=True).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise ServiceError(f"{child.name} not answering {url}:\n{child.log_tail()}")
        time.sleep(0.2)


def run_demo(
    settings: Settings,
    data_dir: Path,
    nodes: int = 4,
    interval_s: float = 10.0,
    exit_after_s: float | None = None,
    embedded: bool = False,
) -> int:
    """Run the demo; return the process exit code.

    `embedded` uses the SQLite store and the amqtt broker even when influxd/mosquitto exist.
    """
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: list[ManagedProcess] = []
    node_procs: list[NodeProcess] = []
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        if not embedded and find_binary("influxd"):
            influx = start_influxd(data_dir / "influxdb")
            started.append(influx)
            store_url = influx.url
        else:
            print("influxd not installed: using the embedded SQLite store", flush=True)
            store_url = f"sqlite:///{data_dir / 'readings.db'}"
        mosquitto: MosquittoServer | None = None
        broker: ManagedProcess
        if not embedded and find_binary("mosquitto"):
            # authentication on: a fresh gateway password per run, nodes added below
            broker = mosquitto = start_mosquitto(data_dir / "mosquitto")
            mqtt_url = mosquitto.gateway_url
        else:
            print("mosquitto not installed: using the embedded amqtt broker", flush=True)
            port = free_port()
            broker = spawn("amqtt", [sys.executable, "-m", "ruong.broker", str(port)], logs)
            broker.wait_for_log("embedded MQTT broker on", READY_TIMEOUT_S)
            mqtt_url = f"mqtt://127.0.0.1:{port}"
        started.append(broker)

        demo = replace(
            settings,
            store_url=store_url,
            mqtt_url=mqtt_url,
            coap_bind=f"coap://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
            registry_url=f"sqlite:///{data_dir / 'registry.db'}",
            spool_path=str(data_dir / "spool.db"),
            metrics_bind=f"http://127.0.0.1:{free_port()}",
            # a model directory the operator chose is kept (models take a while to train)
            model_dir=settings.model_dir
            if "forecast.model_dir" in settings.source
            else str(data_dir / "models"),
            source={},
        )
        config = data_dir / "demo.toml"
        config.write_text(render_toml(demo))
        config.chmod(0o600)  # [mqtt] url carries the gateway's broker password

        # the demo's own registry may be from an earlier Ruộng: bring it up to date first
        engine = db.create(demo.registry_url)
        db.upgrade(engine)
        engine.dispose()

        gateway = spawn("gateway", _ruong("--config", str(config), "gateway"), logs, cwd=data_dir)
        started.append(gateway)
        gateway.wait_for_log("gateway ready", READY_TIMEOUT_S)
        # the alert evaluator and sender: the in-app inbox always, other channels as configured
        started.append(
            spawn("alerts", _ruong("--config", str(config), "alerts"), logs, cwd=data_dir)
        )
        dashboard = spawn("dashboard", _ruong("--config", str(config), "serve"), logs, cwd=data_dir)
        started.append(dashboard)
        url = f"http://{demo.dashboard.host}:{demo.dashboard.port}/"
        _wait_for_http(dashboard, url, READY_TIMEOUT_S)

        with Registry(demo.registry_url) as registry, open_store(demo.store) as store:
            store.ensure_downsampling()
            infos = ensure_nodes(registry, demo, nodes)
            if mosquitto is not None:  # as `ruong mqtt sync` + a reload after provisioning
                mosquitto.sync(registry)
            for line in seed_history(registry, store, infos, pd.Timestamp.now(demo.timezone)):
                print(line, flush=True)
            store.backfill_downsampled(  # the CQs only cover hours to come
                int(time.time() * 1000) - (HISTORY_DAYS + 1) * 86_400_000, int(time.time() * 1000)
            )
        logins = seed_people(demo.registry_url, demo.farm, [i.field for i in infos], data_dir)
        for i, info in enumerate(infos):
            node_procs.append(
                start_node(info, demo, data_dir / "nodes", 0, interval_s, i + 1, log_to_file=True)
            )
        print(f"Ruộng demo: {len(infos)} nodes reporting every {interval_s:g} s", flush=True)
        print(f"Mở bảng điều khiển / open the dashboard: {url}", flush=True)
        for login in logins:  # Vietnamese role names first, as on the dashboard
            print(
                f"  {ROLE_NAMES[login.role]}: {login.login}  mật khẩu / password {login.password}",
                flush=True,
            )
        print(f"gateway metrics: {demo.metrics_bind}/metrics", flush=True)
        print(f"logs: {logs}  (Ctrl-C to stop)", flush=True)

        forecast: ManagedProcess | None = None
        forecasts_run = forecasts_failed = 0
        next_forecast = time.monotonic()
        deadline = None if exit_after_s is None else time.monotonic() + exit_after_s
        while not stop.is_set():
            if forecast is not None and forecast.proc.poll() is not None:
                forecasts_run += 1
                if forecast.proc.returncode != 0:
                    forecasts_failed += 1
                    print(f"forecast failed:\n{forecast.log_tail()}", file=sys.stderr, flush=True)
                forecast = None
            if forecast is None and time.monotonic() >= next_forecast:
                # the first run trains the soil-moisture model into the data dir
                forecast = spawn(
                    "forecast", _ruong("--config", str(config), "forecast", "run"), logs, data_dir
                )
                next_forecast = time.monotonic() + FORECAST_EVERY_S
            for child in started:
                child.check_alive()
            for node in node_procs:
                if node.proc.poll() is not None:
                    log_path = node.config_path.parent / "node.log"
                    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
                    raise ServiceError(
                        f"node {node.info.node} exited {node.proc.returncode}:\n{tail}"
                    )
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(0.5)

        if forecast is not None:
            forecast.stop()
        with open_store(demo.store) as store:
            views = latest_by_node(store)
            advice = sum(len(v) for v in latest_forecasts(store, int(time.time() * 1000)).values())
        now = time.time()
        for view in views:
            print(
                f"node {view.node} ({view.field}): {len(view.values)} values, "
                f"last sample {now - view.time_ms / 1000:.0f} s ago",
                flush=True,
            )
        print(
            f"forecast runs: {forecasts_run} finished, {forecasts_failed} failed; "
            f"{advice} pieces of advice on the dashboard",
            flush=True,
        )
        return 1 if forecasts_failed else 0
    except ServiceError as exc:
        print(f"ruong demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for node in node_procs:
            node.proc.terminate()
        for node in node_procs:
            node.proc.wait(10)
        for child in reversed(started):
            child.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("Ruộng demo stopped.", flush=True)
