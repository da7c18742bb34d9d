"""`ruong demo`: the whole chain on one machine, as separate processes an operator would run.

Starts, under `--data-dir` (default ./ruong-data):
- InfluxDB (`influxd`, when installed; otherwise the embedded SQLite store),
- an MQTT broker (`mosquitto`, when installed, with a password file and an ACL: the gateway
  and each node log in with their own account; otherwise the embedded amqtt broker, anonymous),
- `ruong gateway` and `ruong serve` with a generated config,
- a local weather-forecast server speaking Open-Meteo's `/v1/forecast` from the weather
  generator (ruong/openmeteo_local.py), as the `[weather] url` of the forecasts,
- N simulated nodes, each the real firmware on the MicroPython unix port, each on a field
  planted with a crop in season, whose simulated past (ruong.demo_history) is the same
  simulated field the live node then carries on (sensors by the field's kind: a paddy's node
  has the water-level sensor, an upland node not),
- `ruong forecast watch`, which forecasts each field again as soon as its readings change
  what the advice should say, and the alert evaluator and sender,
- the demo's farmer (ruong/demo_farmer.py), who follows the advice: some hours after a field
  is to be irrigated or re-flooded he pumps water into its simulated field and records it.
`speed` > 1 runs all of it on one simulated clock (backend/clock.py, the config's `[clock]`)
that many times faster, from `start` (default today), so a new user watches days of a season
in minutes; the console tells each change of a field's advice and each act of the farmer.
Prints the dashboard URL, runs until Ctrl-C or `--exit-after`, then stops everything it started,
newest first, and exits 0. A child that dies early stops the demo with its log tail and exit 1.
"""

from __future__ import annotations

import datetime as dt
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend import db
from backend.accounts import Accounts
from backend.alerts.store import AlertStore
from backend.clock import Clock
from backend.config import Settings, render_toml
from backend.node_health import latest_by_node
from backend.registry import Registry
from backend.schema import Farm, Field
from backend.store import open_store
from dashboard.data import latest_forecasts
from ruong.demo_farmer import DemoFarmer, Narrator
from ruong.demo_history import seed_history
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
FORECAST_EVERY_S = 600.0  # whole-farm forecast runs, real seconds (at most)
REFRESH_S = 3600.0  # unchanged advice rewritten (site seconds), for its reading time
WEATHER_SEED = 7


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


def _field_ids(engine: Engine, farm: str) -> dict[str, int]:
    """The registry id of each field of `farm`, by name."""
    with Session(engine) as session:
        rows = session.execute(
            select(Field.name, Field.id)
            .join(Farm, Farm.id == Field.farm_id)
            .where(Farm.name == farm)
        )
        return {name: id_ for name, id_ in rows}


def run_demo(
    settings: Settings,
    data_dir: Path,
    nodes: int = 4,
    interval_s: float = 10.0,
    exit_after_s: float | None = None,
    embedded: bool = False,
    speed: float = 1.0,
    start: dt.date | None = None,
) -> int:
    """Run the demo; return the process exit code.

    `embedded` uses the SQLite store and the amqtt broker even when influxd/mosquitto exist;
    `speed`, `start`: the simulated clock (see the module notes).
    """
    tz = ZoneInfo(settings.timezone)
    clock = Clock()
    if speed != 1.0 or start is not None:
        start_s = None
        if start is not None:  # that day at this time of day, so the day's light is right
            now_local = dt.datetime.now(tz)
            start_s = dt.datetime.combine(start, now_local.time(), tz).timestamp()
        clock = Clock.simulated(speed, start_s)
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

        weather_port = free_port()
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
            weather_url=f"http://127.0.0.1:{weather_port}",
            weather_cache_dir=str(data_dir / "weather"),
            clock_speed=clock.speed,
            clock_start=clock.start,
            clock_origin=clock.origin,
            # a faster clock: the alerts follow the readings at the nodes' pace
            alerts_evaluate_every=min(settings.alerts_evaluate_every, max(1.0, interval_s))
            if not clock.real
            else settings.alerts_evaluate_every,
            source={},
        )
        config = data_dir / "demo.toml"
        config.write_text(render_toml(demo))
        config.chmod(0o600)  # [mqtt] url carries the gateway's broker password

        # the demo's own registry may be from an earlier Ruộng: bring it up to date first
        engine = db.create(demo.registry_url)
        db.upgrade(engine)
        engine.dispose()

        weather = spawn(
            "weather",
            [sys.executable, "-m", "ruong.openmeteo_local", "--port", str(weather_port),
             "--seed", str(WEATHER_SEED), "--config", str(config)],
            logs,
            cwd=data_dir,
        )  # fmt: skip
        started.append(weather)
        weather.wait_for_log("open-meteo local on", READY_TIMEOUT_S)
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

        now = pd.Timestamp(clock.now_s(), unit="s", tz="UTC").tz_convert(tz)
        with Registry(demo.registry_url) as registry, open_store(demo.store) as store:
            store.ensure_downsampling()
            infos = ensure_nodes(registry, demo, nodes)
            if mosquitto is not None:  # as `ruong mqtt sync` + a reload after provisioning
                mosquitto.sync(registry)
            # the live nodes' farmer is the demo's (DemoFarmer), not the simulation's own
            seeded = seed_history(
                registry, store, infos, now, step_s=interval_s * clock.speed, auto_farmer=False
            )
            for line in seeded.lines:
                print(line, flush=True)
            oldest = min(p.planted for p in registry.plantings(demo.farm))
            store.backfill_downsampled(  # the CQs only cover hours to come
                int(pd.Timestamp(oldest).tz_localize(tz).timestamp() * 1000), clock.now_ms()
            )
        logins = seed_people(demo.registry_url, demo.farm, [i.field for i in infos], data_dir)
        node_clock = None if clock.real else vars(clock)
        for info in infos:
            node_procs.append(
                start_node(
                    info,
                    demo,
                    data_dir / "nodes",
                    0,
                    interval_s,
                    seeded.seeds[info.field],
                    log_to_file=True,
                    sim=seeded.sims[info.field],
                    clock=node_clock,
                )
            )
        print(f"Ruộng demo: {len(infos)} nodes reporting every {interval_s:g} s", flush=True)
        if not clock.real:
            print(
                f"simulated clock: {clock.speed:g}x from "
                f"{dt.datetime.fromtimestamp(clock.start, tz):%Y-%m-%d %H:%M}: one real second "
                f"is {clock.speed:g} s of the season, each node report {interval_s * clock.speed / 60:g} min",
                flush=True,
            )
        print(f"Mở bảng điều khiển / open the dashboard: {url}", flush=True)
        for login in logins:  # Vietnamese role names first, as on the dashboard
            print(
                f"  {ROLE_NAMES[login.role]}: {login.login}  mật khẩu / password {login.password}",
                flush=True,
            )
        print(f"gateway metrics: {demo.metrics_bind}/metrics", flush=True)
        print(f"logs: {logs}  (Ctrl-C to stop)", flush=True)

        # a field's advice follows its readings within half a report; the first run trains
        # the soil-moisture model into the data dir
        watch = [
            "forecast",
            "watch",
            "--every",
            f"{max(1.0, interval_s / 2):g}",
            "--refresh",
            f"{max(interval_s, clock.real_seconds(REFRESH_S)):g}",
            "--full-every",
            f"{max(4 * interval_s, min(FORECAST_EVERY_S, clock.real_seconds(6 * 3600))):g}",
        ]
        started.append(spawn("forecast", _ruong("--config", str(config), *watch), logs, data_dir))
        engine = db.open_engine(demo.registry_url)
        farmer_login = next((x.login for x in logins if x.role == "farmer"), None)
        farmer_id = Accounts(engine).user(farmer_login).id if farmer_login else None
        story_store = open_store(demo.store)
        narrator = Narrator(story_store, clock, tz)
        farmer = DemoFarmer(
            engine,
            clock,
            _field_ids(engine, demo.farm),
            {n.info.field: n.config_path.parent for n in node_procs},
            farmer_id,
            tz,
        )
        next_story = time.monotonic()
        deadline = None if exit_after_s is None else time.monotonic() + exit_after_s
        while not stop.is_set():
            for child in started:
                child.check_alive()
            if time.monotonic() >= next_story:
                next_story = time.monotonic() + 1.0
                latest, lines = narrator.step()
                lines += farmer.step(latest)
                for line in lines:
                    print(line, flush=True)
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

        views = latest_by_node(story_store)
        advice = sum(len(v) for v in latest_forecasts(story_store, clock.now_ms()).values())
        story_store.close()
        alerts = AlertStore(engine, clock).alerts()
        engine.dispose()
        now_s = clock.now_s()
        for view in views:
            print(
                f"node {view.node} ({view.field}): {len(view.values)} values, "
                f"last sample {now_s - view.time_ms / 1000:.0f} s ago (site time)",
                flush=True,
            )
        for alert in alerts:
            print(f"alert {alert.rule} on {alert.subject}: level {alert.level}, {alert.state}")
        print(
            f"advice changes: {len(narrator.changes)}; farmer's records: {farmer.records}; "
            f"{advice} pieces of advice on the dashboard; {len(alerts)} alerts",
            flush=True,
        )
        return 0
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
