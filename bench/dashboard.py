"""The dashboard on a phone's budget, against an earlier version side by side.

    .venv/bin/python -m bench.dashboard [--fields 100] [--days 365] [--against REF] [--requests 200]

A real InfluxDB in a temp dir holds `--days` of 15-minute readings for `--fields` fields
(bench/year_of_data.py, downsampled as start-up does); a registry gives one farmer all of
them. Each version (this checkout, and `--against REF` checked out into a temporary
worktree) is served by bench/dashboard_serve.py on the same registry and store, and measured
the same way:
- first visit: headless Chromium (a fresh profile) logs in, then opens the version's page of
  one field (`/field/<id>`; a version without one, its `/`); every byte the network carried
  for it (Chromium's `encodedDataLength`: compressed, headers included) until its charts or
  cards are drawn;
- repeat visit: the same page opened again in the same browser (its cache warm);
- largest callback: the largest `/_dash-update-component` answer of either visit;
- server time: the page's callbacks as Chromium sent them, replayed `--requests` times over
  random fields with httpx, store answers not reused between requests: p50 and p95 (ms) of
  the callbacks that draw the page's data (Dash's page router, the old page's cards), and
  p95 of the rest (header, language, the new-data pulse), which the page does not wait for.
Budgets (issue "dashboard"): first visit <= 800 KB, repeat <= 50 KB, a callback <= 20 KB,
p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from backend import db
from backend.accounts import Accounts
from backend.registry import Registry
from bench.year_of_data import write_year
from ruong.services import free_port, start_influxd

REPO = Path(__file__).resolve().parents[1]
PHONE = "0912345678"
PASSWORD = "bench-dashboard-2026"
BUDGET = {"first_kb": 800, "repeat_kb": 50, "callback_kb": 20, "p95_ms": 300}


@dataclass
class Figures:
    first_kb: float
    repeat_kb: float
    callback_kb: float
    p50_ms: float
    p95_ms: float
    rest_p95_ms: float
    page: str


def world(workdir: Path, store_url: str, n_fields: int, days: int) -> tuple[str, list[int]]:
    """The registry (one farmer owning every field) and the readings; its URL and field ids."""
    registry_url = f"sqlite:///{workdir / 'registry.db'}"
    engine = db.open_engine(registry_url)
    accounts = Accounts(engine)
    accounts.add_organisation("HTX Bench", "coop")
    farmer = accounts.add_user("HTX Bench", "farmer", PASSWORD, phone=PHONE)
    fields = [("bench", f"f{i:03d}", f"n{i:08x}") for i in range(n_fields)]
    ids = []
    with Registry(registry_url) as registry:
        registry.add_farm("bench", "HTX Bench")
        for farm, name, _node in fields:
            registry.provision(farm, name, "coap")
            ids.append(registry.add_field(farm, name, "Khánh Thiện", farmer.id, area_m2=1500.0))
    engine.dispose()
    started = time.monotonic()
    points = write_year(store_url, fields, days=days)
    print(f"wrote {points:,} points in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return registry_url, ids


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless=new",
        "--no-first-run",
        "--disable-background-networking",
        "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
        "--disable-dev-shm-usage",
    ):
        options.add_argument(flag)
    options.add_argument("--window-size=360,780")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def network(driver: webdriver.Chrome) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """Bytes per request id (compressed, with headers) and each request's url and body, from
    Chromium's performance log since it was last read."""
    sizes: dict[str, int] = {}
    requests: dict[str, dict[str, Any]] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            requests[params["requestId"]] = params["request"]
        elif message["method"] == "Network.loadingFinished":
            sizes[params["requestId"]] = int(params["encodedDataLength"])
    return sizes, requests


def visit(driver: webdriver.Chrome, url: str, drawn: str) -> tuple[int, int, list[dict[str, Any]]]:
    """Open `url`, wait until `drawn` (a CSS selector) is on the page and the network is
    quiet; total bytes, the largest callback answer, and the callback requests sent."""
    driver.get_log("performance")  # forget what came before
    driver.get(url)
    deadline = time.monotonic() + 30
    while not driver.find_elements("css selector", drawn):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{drawn} never appeared on {url}")
        time.sleep(0.1)
    time.sleep(2.0)  # the last callbacks and lazy chunks
    sizes, requests = network(driver)
    callbacks = [r for r in requests.values() if "_dash-update-component" in r["url"]]
    largest = max(
        (
            n
            for rid, n in sizes.items()
            if "_dash-update-component" in requests.get(rid, {}).get("url", "")
        ),
        default=0,
    )
    return sum(sizes.values()), largest, callbacks


def measure(root: Path, registry_url: str, store_url: str, ids: list[int], n: int) -> Figures:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench" / "dashboard_serve.py"),
            str(root),
            registry_url,
            store_url,
            str(port),
        ],
        cwd=root,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/login", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        driver = chromium()
        try:
            driver.get(base + "/login")
            driver.find_element("id", "login").send_keys(PHONE)
            driver.find_element("id", "password").send_keys(PASSWORD)
            driver.find_element("id", "login-submit").click()
            time.sleep(1.0)
            has_field_page = (
                httpx.get(
                    f"{base}/field/{ids[0]}",
                    cookies={c["name"]: c["value"] for c in driver.get_cookies()},
                ).status_code
                == 200
                and (root / "dashboard" / "pages" / "field.py").exists()
            )
            page = f"/field/{ids[0]}" if has_field_page else "/"
            drawn = "#field-body .js-plotly-plot" if has_field_page else ".node-card"
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})  # the login page's CSS too
            first, big1, callbacks = visit(driver, base + page, drawn)
            repeat, big2, _ = visit(driver, base + page, drawn)
            cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
        finally:
            driver.quit()
        drawing, rest = replay(base, cookies, callbacks, ids, page, n)
    finally:
        server.terminate()
        server.wait(10)
    return Figures(
        first / 1024,
        repeat / 1024,
        max(big1, big2) / 1024,
        statistics.median(drawing),
        p95(drawing),
        p95(rest),
        page,
    )


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def is_page(body: str) -> bool:
    """A callback that draws the page's data: Dash's page router (it renders a page's layout
    with its data), a field page's redraw, the old single page's cards."""
    output = json.loads(body)["output"]
    return any(part in output for part in ("_pages_content", "field-body", "node-cards"))


def replay(
    base: str,
    cookies: dict[str, str],
    callbacks: list[dict[str, Any]],
    ids: list[int],
    page: str,
    n: int,
) -> tuple[list[float], list[float]]:
    """The page's callbacks replayed for random fields: ms per page for those that draw its
    data, and ms per page for the rest (header, language, the new-data pulse)."""
    bodies = [c["postData"] for c in callbacks if c.get("postData")]
    rng = random.Random(0)
    drawing: list[float] = []
    rest: list[float] = []
    with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
        for _ in range(n):
            field = rng.choice(ids)
            spent = {True: 0.0, False: 0.0}
            for body in bodies:
                text = body.replace(page, f"/field/{field}") if page != "/" else body
                text = text.replace(
                    f'"field-id","property":"data","value":"{ids[0]}"',
                    f'"field-id","property":"data","value":"{field}"',
                )
                started = time.perf_counter()
                answer = client.post(
                    "/_dash-update-component",
                    content=text,
                    headers={"Content-Type": "application/json"},
                )
                answer.raise_for_status()
                spent[is_page(body)] += (time.perf_counter() - started) * 1000
            drawing.append(spent[True])
            rest.append(spent[False])
    return drawing, rest


def worktree(ref: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(into), ref],
        check=True,
        capture_output=True,
    )
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fields", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--against", help="a git revision to measure side by side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        workdir = Path(tmp)
        influx = start_influxd(workdir / "influxd")
        try:
            registry_url, ids = world(workdir, influx.url, args.fields, args.days)
            rows = {"this": measure(REPO, registry_url, influx.url, ids, args.requests)}
            if args.against:
                old = worktree(args.against, workdir / "against")
                try:
                    rows[args.against] = measure(old, registry_url, influx.url, ids, args.requests)
                finally:
                    subprocess.run(
                        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)],
                        check=False,
                        capture_output=True,
                    )
        finally:
            influx.stop()
    print(f"{args.fields} fields x {args.days} days of 15-minute readings in InfluxDB")
    print(
        f"{'version':<12} {'page':<12} {'first KB':>9} {'repeat KB':>10} {'callback KB':>12} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'rest p95':>9}"
    )
    for name, f in rows.items():
        print(
            f"{name:<12} {f.page:<12} {f.first_kb:>9.0f} {f.repeat_kb:>10.1f} {f.callback_kb:>12.1f} "
            f"{f.p50_ms:>7.0f} {f.p95_ms:>7.0f} {f.rest_p95_ms:>9.0f}"
        )
    print(
        f"{'budget':<12} {'':<12} {BUDGET['first_kb']:>9} {BUDGET['repeat_kb']:>10} "
        f"{BUDGET['callback_kb']:>12} {'':>7} {BUDGET['p95_ms']:>7}"
    )
    if args.against:
        new, old = rows["this"], rows[args.against]
        print(
            f"{'this/' + args.against[:7]:<25} {new.first_kb / old.first_kb:>9.2f} "
            f"{new.repeat_kb / old.repeat_kb:>10.2f} {new.callback_kb / old.callback_kb:>12.2f} "
            f"{new.p50_ms / old.p50_ms:>7.2f} {new.p95_ms / old.p95_ms:>7.2f} "
            f"{new.rest_p95_ms / max(old.rest_p95_ms, 0.1):>9.2f}"
        )


if __name__ == "__main__":
    main()
