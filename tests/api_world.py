"""A small Ruộng world for the API tests, built only through the real `ruong` command line and
served by a real `ruong serve` child process on a free port.

Two organisations and two communes; farmer A owns A1 in Khánh Thiện, farmer B owns B1 in
Khánh Thiện and B2 in Yên Mô (B2 on the company's farm); an officer per commune, each in
the other organisation than most of the fields they cover (an officer's scope crosses
organisations); the coop's technician, admin and viewer; one node per field; readings and
a forecast per field in the embedded SQLite store, with values that tell the fields apart.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from backend.i18n import Message
from backend.store import Point, open_store
from forecasting.advice import Advice
from ruong.forecast_job import advice_point
from ruong.services import ManagedProcess, ServiceError, free_port
from tests.conftest import run_ruong

COOP = "HTX Khánh Thiện"
COMPANY = "Công ty Nông nghiệp Yên Mô"
KHANH_THIEN = "Khánh Thiện"
YEN_MO = "Yên Mô"
COOP_FARM = "htx-khanh-thien"
LINK_SECRET = "link-secret-of-the-api-world"  # signs the one-tap acknowledgement links
COMPANY_FARM = "yen-mo-agri"
LOCAL = "127.0.0.1"  # the address every fixture login comes from


@dataclass(frozen=True)
class Person:
    key: str
    login: str  # as a person would type it
    password: str
    org: str
    role: str
    name: str | None = None
    communes: tuple[str, ...] = ()

    @property
    def phone(self) -> str | None:
        """E.164, as the API shows it (None for a username)."""
        digits = re.sub(r"\D", "", self.login)
        return "+84" + digits[1:] if digits and self.login[0] in "0+" else None


# the seven roles of the scope matrix, then the accounts of the throttling, session and
# schemathesis tests
ROLES = ("farmer_a", "farmer_b", "officer_o1", "officer_o2", "technician", "admin", "viewer")
PEOPLE = (
    Person("farmer_a", "0912 345 678", "lúa-xuân-A-2026", COOP, "farmer", "Nguyễn Văn An"),
    Person("farmer_b", "0987 654 321", "pw-farmer-b-Bình", COMPANY, "farmer", "Trần Thị Bình"),
    Person(
        "officer_o1",
        "can-bo.khanh-thien",
        "pw-officer-o1-kt",
        COMPANY,
        "officer",
        communes=(KHANH_THIEN,),
    ),
    Person("officer_o2", "can-bo.yen-mo", "pw-officer-o2-ym", COOP, "officer", communes=(YEN_MO,)),
    Person("technician", "ky-thuat.htx", "pw-technician-htx", COOP, "technician"),
    Person("admin", "quan-tri.htx", "pw-admin-htx-2026", COOP, "admin"),
    Person("viewer", "xem.bao-cao", "pw-viewer-htx-26", COOP, "viewer"),
    Person("long_run", "0356 789 012", "pw-long-run-right", COOP, "farmer"),
    Person("recover", "thu.nguyen", "pw-recover-right", COOP, "farmer"),
    Person("to_disable", "ha.pham", "pw-to-disable-ok", COOP, "farmer"),
    Person("throwaway", "thu-nghiem.st", "pw-throwaway-st", COOP, "farmer"),
)


@dataclass
class FieldSpot:
    """A field of the world: where it is, whose, its node, and the values it reports."""

    name: str
    farm: str
    commune: str
    owner: str  # a Person.key
    soil_vwc: float  # every reading of the field, %: a mean tells which field it came from
    et0_mm: float  # its forecast's number
    id: int = 0
    node: str = ""


def _fields() -> dict[str, FieldSpot]:
    return {
        "A1": FieldSpot("A1", COOP_FARM, KHANH_THIEN, "farmer_a", 21.5, 1.1),
        "B1": FieldSpot("B1", COOP_FARM, KHANH_THIEN, "farmer_b", 32.5, 2.2),
        "B2": FieldSpot("B2", COMPANY_FARM, YEN_MO, "farmer_b", 43.5, 3.3),
    }


@dataclass
class World:
    root: Path
    port: int
    people: dict[str, Person] = field(default_factory=lambda: {p.key: p for p in PEOPLE})
    fields: dict[str, FieldSpot] = field(default_factory=_fields)
    tokens: dict[str, str] = field(default_factory=dict)  # Person.key -> session token
    passwords_sent: set[str] = field(default_factory=set)  # every password typed, right or wrong
    server: ManagedProcess | None = None

    @property
    def config(self) -> Path:
        return self.root / "ruong.toml"

    @property
    def registry_path(self) -> Path:
        return self.root / "registry.db"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.root / 'readings.db'}"

    @property
    def base_url(self) -> str:
        return f"http://{LOCAL}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of the children: no RUONG_* of the caller's leaks into them."""
        return {k: v for k, v in os.environ.items() if not k.startswith("RUONG_")}

    def ruong(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `ruong --config <world> ARGS...` as a child process; fail unless it exits 0."""
        done = run_ruong(
            "--config", str(self.config), *args, stdin=stdin, cwd=self.root, env=self.env
        )
        if done.returncode != 0:
            raise AssertionError(
                f"ruong {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done

    def client(
        self, token: str | None = None, cookie: str | None = None, source: str = LOCAL
    ) -> httpx.Client:
        """An HTTP client of the server from `source` (any 127/8 address: each throttling
        scenario has its own, so its client-address count touches no other test)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if cookie:
            headers["Cookie"] = f"ruong_session={cookie}"
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=httpx.HTTPTransport(local_address=source),
            timeout=30,
            follow_redirects=False,
        )

    def login(self, login: str, password: str, source: str = LOCAL) -> httpx.Response:
        """POST /api/v1/auth/login from `source`."""
        self.passwords_sent.add(password)
        with self.client(source=source) as http:
            return http.post("/api/v1/auth/login", json={"login": login, "password": password})

    def session(self, key: str, source: str = LOCAL) -> str:
        """A new session token of the person `key` (the right password)."""
        person = self.people[key]
        answer = self.login(person.login, person.password, source)
        assert answer.status_code == 200, (key, answer.status_code, answer.text)
        token: str = answer.json()["token"]
        return token

    def audit(self, action: str = "login") -> list[dict[str, object]]:
        """`ruong audit list --json --action ACTION`: the stored events, oldest first."""
        import json

        events: list[dict[str, object]] = json.loads(
            self.ruong("audit", "list", "--json", "--action", action).stdout
        )
        return events

    def close(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=10)


def _write_config(world: World) -> None:
    world.config.write_text(
        f"""[registry]
url = "sqlite:///{world.registry_path}"
[store]
url = "{world.store_url}"
[dashboard]
bind = "http://{LOCAL}:{world.port}"
[mqtt]
url = ""
[coap]
bind = ""
[alerts]
link_secret = "{LINK_SECRET}"
""",
        encoding="utf-8",
    )


def _people(world: World) -> None:
    world.ruong("org", "add", COOP, "--kind", "coop")
    world.ruong("org", "add", COMPANY, "--kind", "company")
    for p in PEOPLE:
        who = ["--phone", p.login] if p.phone else ["--username", p.login]
        args = ["user", "add", "--org", p.org, "--role", p.role, *who, "--password-stdin"]
        for commune in p.communes:
            args += ["--commune", commune]
        if p.name:
            args += ["--name", p.name]
        world.ruong(*args, stdin=p.password + "\n")
        world.passwords_sent.add(p.password)


def _fields_and_nodes(world: World) -> None:
    import json

    world.ruong("farm", "add", COOP_FARM, "--org", COOP)
    world.ruong("farm", "add", COMPANY_FARM, "--org", COMPANY)
    for spot in world.fields.values():
        owner = world.people[spot.owner].login
        added = world.ruong(
            "field",
            "add",
            "--farm",
            spot.farm,
            "--field",
            spot.name,
            "--commune",
            spot.commune,
            "--owner",
            owner,
            "--lat",
            "20.1",
            "--lon",
            "105.9",
            "--area-m2",
            "1500",
        )
        found = re.match(r"field (\d+):", added.stdout)
        assert found, added.stdout
        spot.id = int(found.group(1))
        provisioned = world.ruong(
            "node",
            "provision",
            "--farm",
            spot.farm,
            "--field",
            spot.name,
            "--transport",
            "coap",
            "--json",
        )
        spot.node = json.loads(provisioned.stdout)["node"]


def _store(world: World) -> None:
    """A day of hourly readings and a status per node, and one `forecasts` point per field."""
    now_ms = int(time.time() * 1000)
    points = []
    for spot in world.fields.values():
        tags = {"farm": spot.farm, "field": spot.name, "node": spot.node}
        for hour in range(1, 25):
            values = {"soil_vwc": spot.soil_vwc, "air_temp": 28.0}
            points.append(Point("readings", tags, values, now_ms - hour * 3_600_000))
        points.append(Point("node_status", tags, {"battery": 3.9, "counter": 24}, now_ms))
        advice = Advice(
            "et0",
            "fao56-pm",
            0,
            Message("et0.yesterday", {"day": "2026-12-02", "mm": spot.et0_mm}),
            {"et0_mm": spot.et0_mm},
        )
        points.append(advice_point(spot.farm, spot.name, advice, now_ms - 3_600_000))
    store = open_store(world.store_url)
    try:
        store.write(points)
    finally:
        store.close()


def _serve(world: World, timeout_s: float = 30.0) -> None:
    """`ruong serve` as a child process; wait until the API answers."""
    log_path = world.root / "serve.log"
    argv = [sys.executable, "-m", "ruong.cli", "--config", str(world.config), "serve"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=world.root, env=world.env
        )
    world.server = ManagedProcess("serve", proc, log_path)
    deadline = time.monotonic() + timeout_s
    while True:
        world.server.check_alive()
        try:
            if httpx.get(f"{world.base_url}/api/v1/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ServiceError(f"ruong serve: no answer after {timeout_s:.0f} s")
        time.sleep(0.1)


def _records(world: World) -> None:
    """Each owner records an irrigation on each of their fields, through the API."""
    for spot in world.fields.values():
        with world.client(world.tokens[spot.owner]) as http:
            answer = http.post(
                f"/api/v1/fields/{spot.id}/records",
                json={"kind": "irrigation", "amount_mm": 20.0, "note": f"seed {spot.name}"},
            )
        assert answer.status_code == 201, answer.text


def build_world(root: Path) -> World:
    """The whole world in `root`, its server running (stop it with `World.close`)."""
    world = World(root, free_port())
    _write_config(world)
    _people(world)
    _fields_and_nodes(world)
    _store(world)
    try:
        _serve(world)
        for key in ROLES:
            world.tokens[key] = world.session(key)
        _records(world)
    except BaseException:
        world.close()
        raise
    return world
