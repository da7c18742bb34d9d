"""Nobody sees what is not theirs: the JSON API and the dashboard's callbacks of a real `ruong
serve`, over real sockets, in a world built with the real `ruong` command line
(tests/api_world.py).

- the scope matrix: seven roles × every per-field endpoint, by status and by content;
- a Dash callback answers only the caller's node cards, and nobody without a session;
- wrong passwords are throttled (429, Retry-After), each one audited, and no password is
  ever stored in clear;
- logout, disabling a user and revoking a token end access at the next request;
- an unknown /api/ path is the API's JSON 404, not the dashboard's page;
- schemathesis finds no server error and no answer off its schema.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis.errors import FailureGroup

from backend import db
from backend.accounts import FREE_FAILURES, Accounts
from backend.alerts.engine import Evaluator
from backend.alerts.links import ack_url
from backend.i18n import Message
from backend.registry import Registry
from backend.store import open_store
from forecasting.advice import Advice
from ruong.forecast_job import advice_point
from tests.api_world import COOP, LINK_SECRET, ROLES, World, build_world

pytestmark = pytest.mark.services

API = "/api/v1"

# who may see which field (backend/access.py): a farmer their own, an officer their
# communes' across organisations, the coop's technician and admin the coop's farm
SEES: dict[str, set[str]] = {
    "farmer_a": {"A1"},
    "farmer_b": {"B1", "B2"},
    "officer_o1": {"A1", "B1"},
    "officer_o2": {"B2"},
    "technician": {"A1", "B1"},
    "admin": {"A1", "B1"},
    "viewer": set(),
}
NODES_OF: dict[str, set[str]] = {"technician": {"A1", "B1"}, "admin": {"A1", "B1"}}
# whose phone number and name an answer may carry: the owner's own, their officers', the
# organisation's admin; never a technician's or a viewer's
OWNERS_SHOWN: dict[str, set[str]] = {
    "farmer_a": {"farmer_a"},
    "farmer_b": {"farmer_b"},
    "officer_o1": {"farmer_a", "farmer_b"},
    "officer_o2": {"farmer_b"},
    "technician": set(),
    "admin": {"farmer_a", "farmer_b"},
    "viewer": set(),
}
# the promise, cell by cell: (farmer A, farmer B, officer O1, officer O2, technician, admin,
# viewer); 404 = "no such field" even when it exists, 403 = in scope but not for this role
EXPECTED: dict[str, tuple[int, ...]] = {
    "GET /fields": (200, 200, 200, 200, 200, 200, 403),
    "GET /nodes": (403, 403, 403, 403, 200, 200, 403),
    "GET /fields/A1": (200, 404, 200, 404, 200, 200, 404),
    "GET /fields/A1/readings": (200, 404, 200, 404, 200, 200, 404),
    "GET /fields/A1/forecasts": (200, 404, 200, 404, 200, 200, 404),
    "GET /fields/A1/records": (200, 404, 200, 404, 200, 200, 404),
    "POST /fields/A1/records irrigation": (201, 404, 403, 404, 403, 201, 404),
    "POST /fields/A1/records scouting": (201, 404, 201, 404, 403, 201, 404),
    "GET /fields/B1": (404, 200, 200, 404, 200, 200, 404),
    "GET /fields/B1/readings": (404, 200, 200, 404, 200, 200, 404),
    "GET /fields/B1/forecasts": (404, 200, 200, 404, 200, 200, 404),
    "GET /fields/B1/records": (404, 200, 200, 404, 200, 200, 404),
    "POST /fields/B1/records irrigation": (404, 201, 403, 404, 403, 201, 404),
    "POST /fields/B1/records scouting": (404, 201, 201, 404, 403, 201, 404),
    "GET /fields/B2": (404, 200, 404, 200, 404, 404, 404),
    "GET /fields/B2/readings": (404, 200, 404, 200, 404, 404, 404),
    "GET /fields/B2/forecasts": (404, 200, 404, 200, 404, 404, 404),
    "GET /fields/B2/records": (404, 200, 404, 200, 404, 404, 404),
    "POST /fields/B2/records irrigation": (404, 201, 404, 403, 404, 404, 404),
    "POST /fields/B2/records scouting": (404, 201, 404, 201, 404, 404, 404),
}
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
)
BODIES = {
    "irrigation": {"kind": "irrigation", "amount_mm": 12.5, "note": "matrix"},
    "scouting": {"kind": "scouting", "counts": {"brown_planthopper": 3}},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The world of tests/api_world.py and its `ruong serve`; the server is stopped at the
    end (terminate, then kill after 10 s)."""
    built = build_world(tmp_path_factory.mktemp("api-world"))
    yield built
    built.close()


@pytest.fixture(scope="module")
def api_schema(world: World) -> schemathesis.BaseSchema:
    """The server's own OpenAPI document, loaded by schemathesis."""
    return schemathesis.openapi.from_url(f"{world.base_url}{API}/openapi.json")


def _conformance(api_schema: schemathesis.BaseSchema, resource: str, answer: httpx.Response) -> str:
    """Why `answer` is off the document ("" when it is not): its status named explicitly
    (flask-smorest's `default` error response would let any status pass), its body of the
    schema documented for that status."""
    method, path = _openapi_path(resource)
    operation = api_schema[path][method]
    if str(answer.status_code) not in operation.definition.raw["responses"]:
        return f"{answer.status_code} is not documented"
    try:
        operation.validate_response(answer)
    except FailureGroup as exc:  # one failure per mismatch
        return "off its schema: " + "; ".join(f"{f.title}: {f.message}" for f in exc.exceptions)
    return ""


def _request(world: World, http: httpx.Client, resource: str) -> httpx.Response:
    """One cell's request: `resource` is a row name of EXPECTED."""
    method, path, *kind = resource.split()
    for name, spot in world.fields.items():
        path = path.replace(f"/{name}", f"/{spot.id}")
    url = API + path
    if path.endswith("/readings"):
        url += "?quantity=soil_vwc&every=1h"
    if path.endswith("/forecasts"):
        url += "?lang=en"
    if method == "POST":
        return http.post(url, json=BODIES[kind[0]])
    return http.get(url)


def _openapi_path(resource: str) -> tuple[str, str]:
    method, path, *_ = resource.split()
    return method, API + re.sub(r"/(A1|B1|B2)\b", "/{field_id}", path)


def _check_content(world: World, role: str, resource: str, answer: httpx.Response) -> list[str]:
    """What is wrong with a 2xx answer's body for `role`, and what leaks from any answer."""
    problems = []
    text = answer.text
    # nothing of an out-of-scope field: not its node, not its owner's phone or name
    for name, spot in world.fields.items():
        if name not in SEES[role] and spot.node in text:
            problems.append(f"node {spot.node} of {name}")
    for key in ("farmer_a", "farmer_b"):
        person = world.people[key]
        if key not in OWNERS_SHOWN[role]:
            assert person.phone and person.name
            for personal in (person.phone, person.name):
                if personal in text:
                    problems.append(f"{key}'s {personal}")
    if not OWNERS_SHOWN[role] and "+84" in text:
        problems.append("a phone number (+84...)")
    if answer.status_code >= 300 or resource == "GET /me":
        return problems

    body = answer.json()
    by_id = {spot.id: name for name, spot in world.fields.items()}
    if resource == "GET /fields":
        seen = {by_id.get(f["id"], f"#{f['id']}") for f in body}
        if seen != SEES[role]:
            problems.append(f"fields {sorted(seen)}")
        for f in body:
            owner = world.fields[by_id[f["id"]]].owner if f["id"] in by_id else None
            if (f["owner"] is not None) != (owner in OWNERS_SHOWN[role]):
                problems.append(f"owner of field {f['id']}: {f['owner']}")
    elif resource == "GET /nodes":
        seen = {n["node"] for n in body}
        wanted = {world.fields[name].node for name in NODES_OF[role]}
        if seen != wanted:
            problems.append(f"nodes {sorted(seen)}, wanted {sorted(wanted)}")
    else:
        name = re.search(r"/(A1|B1|B2)\b", resource).group(1)  # type: ignore[union-attr]
        spot = world.fields[name]
        if resource.endswith("/readings"):
            values = {p["value"] for p in body["points"]}
            if body["field"] != spot.id or values != {spot.soil_vwc}:
                problems.append(f"readings of field {body['field']}: {sorted(values)}")
        elif resource.endswith("/forecasts"):
            if [f["values"].get("et0_mm") for f in body] != [spot.et0_mm]:
                problems.append(f"forecasts {body}")
        elif resource.startswith("GET") and resource.endswith("/records"):
            if not body or {r["field_id"] for r in body} != {spot.id}:
                problems.append(f"records {body}")
        elif resource.startswith("POST"):
            if body["field_id"] != spot.id or body["kind"] != resource.split()[-1]:
                problems.append(f"record {body}")
        elif body["id"] != spot.id or (body["owner"] is not None) != (
            spot.owner in OWNERS_SHOWN[role]
        ):
            problems.append(f"field {body}")
    return problems


def test_each_role_sees_exactly_its_own_fields_and_nodes(
    world: World, api_schema: schemathesis.BaseSchema
) -> None:
    """Seven roles × the per-field endpoints over a real socket: the status of each cell is
    the promised one, and the answer is as the OpenAPI document says; no answer carries a
    node, a phone number or a name of a field outside the caller's scope."""
    seen: dict[str, list[int]] = {resource: [] for resource in EXPECTED}
    problems: list[str] = []
    for column, role in enumerate(ROLES):
        with world.client(world.tokens[role]) as http:
            for resource, expected in EXPECTED.items():
                answer = _request(world, http, resource)
                seen[resource].append(answer.status_code)
                if answer.status_code != expected[column]:
                    problems.append(f"{role} {resource}: {answer.status_code} {answer.text}")
                if off := _conformance(api_schema, resource, answer):
                    problems.append(f"{role} {resource}: {off}")
                problems += [
                    f"{role} {resource}: {leak}"
                    for leak in _check_content(world, role, resource, answer)
                ]
            me = http.get(f"{API}/me")
            assert me.status_code == 200
            problems += [f"{role} /me: {x}" for x in _check_content(world, role, "GET /me", me)]

    header = f"{'resource':<36}" + "".join(f"{role:>12}" for role in ROLES)
    print("\nscope matrix (expected/seen when they differ):\n" + header)
    for resource, expected in EXPECTED.items():
        cells = [
            f"{e}" if e == s else f"{e}/{s}!" for e, s in zip(expected, seen[resource], strict=True)
        ]
        print(f"{resource:<36}" + "".join(f"{c:>12}" for c in cells))
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def field_callback(world: World) -> dict[str, object]:
    """The field page's body callback as /_dash-dependencies names it (output, inputs)."""
    with world.client(cookie=world.tokens["farmer_a"]) as http:
        dependencies = http.get("/_dash-dependencies").json()
    found: dict[str, object] = next(d for d in dependencies if d["output"] == "field-body.children")
    return found


def field_body(callback: dict[str, object], field_id: object) -> dict[str, object]:
    """The body Dash's renderer POSTs to redraw the page of `field_id`."""
    values = {"pulse.data": {"t": 1}, "lang.data": "vi", "field-version.data": 0}
    inputs = callback["inputs"]
    assert isinstance(inputs, list)
    return {
        "output": callback["output"],
        "outputs": {"id": "field-body", "property": "children"},
        "inputs": [{**i, "value": values[f"{i['id']}.{i['property']}"]} for i in inputs],
        "changedPropIds": ["pulse.data"],
        "state": [{"id": "field-id", "property": "data", "value": field_id}],
    }


def _dash_refresh(world: World, body: dict[str, object], cookie: str | None) -> httpx.Response:
    with world.client(cookie=cookie) as http:
        return http.post("/_dash-update-component", json=body)


@pytest.mark.parametrize("role", ["farmer_a", "officer_o1", "technician", "viewer"])
def test_the_field_page_callback_shows_only_the_callers_fields(
    world: World, field_callback: dict[str, object], role: str
) -> None:
    """Asked for every field's page in turn, the callback draws the fields of the caller's
    scope and answers "not found" for the others, exactly as for an id that does not exist."""
    shown = set()
    for name, spot in world.fields.items():
        answer = _dash_refresh(world, field_body(field_callback, spot.id), world.tokens[role])
        assert answer.status_code == 200, answer.text
        text = json.dumps(answer.json()["response"]["field-body"]["children"], ensure_ascii=False)
        if f"Ruộng {spot.name}" in text:
            shown.add(name)
        else:
            assert "field-not-found" in text and spot.name not in text
    print(f"{role}: field pages of {sorted(shown) or 'no field'}")
    assert shown == SEES[role]


def test_the_field_page_callback_answers_nobody_without_a_session(
    world: World, field_callback: dict[str, object]
) -> None:
    body = field_body(field_callback, world.fields["A1"].id)
    assert _dash_refresh(world, body, None).status_code == 401
    assert _dash_refresh(world, body, "not-a-session").status_code == 401


def _throttled_run(world: World, login: str, source: str) -> list[httpx.Response]:
    """20 wrong passwords for `login` from `source`: the free ones one after the other, the
    rest at once, as a guessing script would (inside the first wait, which is 1 s)."""
    wrong = [f"wrong-guess-{n:02d}" for n in range(1, 21)]
    answers = [world.login(login, w, source) for w in wrong[:FREE_FAILURES]]
    with ThreadPoolExecutor(len(wrong) - FREE_FAILURES) as pool:
        answers += pool.map(lambda w: world.login(login, w, source), wrong[FREE_FAILURES:])
    return answers


def test_twenty_wrong_passwords_are_throttled_and_each_is_audited(world: World) -> None:
    """The 6th wrong password and every later one answer 429 with Retry-After (password not
    even checked); each attempt is an audit event with the client's address; after the wait
    the right password works."""
    person, source = world.people["long_run"], "127.0.0.2"
    started = time.monotonic()
    answers = _throttled_run(world, person.login, source)
    codes = [a.status_code for a in answers]
    waits = [int(a.headers["Retry-After"]) for a in answers if a.status_code == 429]
    print(f"\n20 wrong passwords in {time.monotonic() - started:.2f} s: {codes}")
    print(f"Retry-After of the 429s: {waits}")
    assert codes == [401] * FREE_FAILURES + [429] * (20 - FREE_FAILURES)
    assert len(waits) == 15 and min(waits) >= 1

    events = [
        e
        for e in world.audit("login")
        if e["client"] == source and e["outcome"] in ("failure", "throttled")
    ]
    outcomes = [e["outcome"] for e in events]
    print(
        f"audit: {len(events)} login events from {source}: {outcomes.count('failure')} failure, "
        f"{outcomes.count('throttled')} throttled"
    )
    assert len(events) == 20
    assert outcomes.count("failure") == FREE_FAILURES
    assert {e["action"] for e in events} == {"login"}

    time.sleep(waits[-1])
    ok = world.login(person.login, person.password, source)
    print(f"right password after sleeping {waits[-1]} s: {ok.status_code}")
    assert ok.status_code == 200, ok.text


def test_after_the_wait_the_right_password_works(world: World) -> None:
    """Exponential delay, 2^(n-5) s after the n-th failure: after 6 failures the right
    password is refused for 2 s without being checked, then accepted."""
    person, source = world.people["recover"], "127.0.0.3"
    figures = []
    for n in range(1, FREE_FAILURES + 1):
        assert world.login(person.login, f"nope-{n}", source).status_code == 401
    early = world.login(person.login, "nope-6", source)
    assert early.status_code == 429
    figures.append(
        f"after {FREE_FAILURES} failures: 429, Retry-After {early.headers['Retry-After']}"
    )
    time.sleep(int(early.headers["Retry-After"]))
    assert world.login(person.login, "nope-6", source).status_code == 401  # the 6th failure
    refused = world.login(person.login, person.password, source)  # right, but inside the wait
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    figures.append(f"after 6 failures the right password: 429, Retry-After {wait}")
    assert wait == math.ceil(2.0 ** (6 - FREE_FAILURES)) == 2
    time.sleep(wait)
    ok = world.login(person.login, person.password, source)
    figures.append(f"after sleeping {wait} s: {ok.status_code}")
    print("\n" + "\n".join(figures))
    assert ok.status_code == 200, ok.text
    # a success clears the account's count: two more wrong passwords are free again (a
    # 7th and 8th failure would have been 429 inside a 4 s wait)
    for n in (7, 8):
        assert world.login(person.login, f"nope-{n}", "127.0.0.5").status_code == 401


def test_the_registry_holds_no_clear_password(world: World) -> None:
    """Grep the registry's bytes (and its journal or WAL, when there is one) for every
    password the tests typed, right or wrong, and every live session token: none is there;
    the hashes are Argon2id."""
    files = sorted(world.root.glob("registry.db*"))
    data = b"".join(path.read_bytes() for path in files)
    found = [p for p in sorted(world.passwords_sent) if p.encode() in data]
    print(
        f"\n{[f.name for f in files]}: {len(data)} bytes, {len(world.passwords_sent)} "
        f"passwords looked for, {len(found)} found, {data.count(b'$argon2id$')} argon2id hashes"
    )
    assert not found
    assert not [t for t in world.tokens.values() if t.encode() in data]
    assert data.count(b"$argon2id$") >= len(world.people)
    log = (world.root / "serve.log").read_bytes()
    assert not [p for p in world.passwords_sent if p.encode() in log]


def test_logout_ends_the_session(world: World, api_schema: schemathesis.BaseSchema) -> None:
    token = world.session("farmer_a", source="127.0.0.4")
    with world.client(token) as http:
        assert http.get(f"{API}/me").status_code == 200
        assert http.post(f"{API}/auth/logout").status_code == 204
        after = [http.get(f"{API}/me"), http.get(f"{API}/fields")]
        assert [a.status_code for a in after] == [401, 401]
        assert not _conformance(api_schema, "GET /me", after[0])
        assert not _conformance(api_schema, "GET /fields", after[1])
    with world.client(cookie=token) as http:
        assert http.get("/").status_code == 303


def test_a_disabled_user_is_out_at_the_next_request(world: World) -> None:
    person = world.people["to_disable"]
    token = world.session(person.key, source="127.0.0.4")
    with world.client(token) as http:
        assert http.get(f"{API}/me").status_code == 200
        world.ruong("user", "disable", person.login)
        assert http.get(f"{API}/me").status_code == 401
    again = world.login(person.login, person.password, "127.0.0.4")
    assert again.status_code == 401
    last = [e for e in world.audit() if e["actor"] == person.login][-1]
    assert (last["outcome"], last["details"]) == ("failure", {"reason": "disabled"})


def test_an_api_token_works_until_revoked(world: World) -> None:
    """`ruong token create` prints the secret once on stdout; it is a bearer for the coop's
    nodes until `ruong token revoke`."""
    created = world.ruong(
        "token", "create", "--org", COOP, "--role", "technician", "--name", "fleet-monitor"
    )
    secret = created.stdout.strip()
    token_id = re.search(r"token (\d+):", created.stderr).group(1)  # type: ignore[union-attr]
    with world.client(secret) as http:
        nodes = http.get(f"{API}/nodes")
        assert nodes.status_code == 200
        assert {n["node"] for n in nodes.json()} == {
            world.fields[name].node for name in NODES_OF["technician"]
        }
        assert "+84" not in http.get(f"{API}/fields").text
        world.ruong("token", "revoke", token_id)
        assert http.get(f"{API}/nodes").status_code == 401


def test_a_session_cookie_opens_the_dashboard(world: World) -> None:
    with world.client(cookie=world.tokens["farmer_a"]) as http:
        assert http.get("/").status_code == 200
    with world.client() as http:
        door = http.get("/")
        assert door.status_code == 303
        assert door.headers["Location"].endswith("/login")


def test_an_unknown_api_path_is_a_json_404_not_the_dashboard_page(world: World) -> None:
    """Dash answers unknown paths with its page; under /api/ the answer is the API's 404
    (and a 405 names the allowed methods)."""
    with world.client(world.tokens["admin"]) as http:
        for path in ("/fields/-1", "/fields/abc/records", "/nope"):
            answer = http.get(API + path)
            assert answer.status_code == 404, path
            assert answer.headers["Content-Type"] == "application/json", path
        refused = http.delete(f"{API}/fields")
        assert refused.status_code == 405
        assert refused.headers["Allow"] == "GET, HEAD, OPTIONS"


def _schemathesis(world: World, token: str, *filters: str) -> tuple[int, str]:
    """`st run` on the server's document with `token` as the bearer: at most 20 examples
    per operation, every phase (examples, coverage, fuzzing, stateful); exit code and
    output."""
    argv = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{world.base_url}{API}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        "20",
        "--checks",
        ",".join(CHECKS),
        "--request-timeout",
        "10",
        *filters,
    ]
    env = {**world.env, "NO_COLOR": "1", "COLUMNS": "100"}
    started = time.monotonic()
    done = subprocess.run(
        argv, check=False, capture_output=True, text=True, cwd=world.root, env=env, timeout=120
    )
    output = done.stdout + done.stderr
    summary = output[output.rfind("\n", 0, output.find("SUMMARY")) + 1 :]
    shown = summary if done.returncode == 0 else output
    print(f"\nst run {' '.join(filters)} ({time.monotonic() - started:.1f} s):\n{shown}")
    return done.returncode, output


def test_alerts_follow_the_scope_and_an_ack_is_kept(world: World) -> None:
    """An "irrigate today" alert on A1 (two evaluations 21 min apart: pending, then firing):
    the farmer of A1 and the officer of its commune see it, the other farmer and the other
    commune's officer do not, and may not acknowledge it (404); A1's farmer does, with a note."""
    now = datetime.now(UTC)
    amount = Message("irrigation.amount", {"mm": 20, "m3": 30.0})
    advice = Advice(
        "irrigation", "fao56-ch8", 3, Message("irrigation.today", {"amount": amount}), {}
    )
    store = open_store(world.store_url)
    spot = world.fields["A1"]
    store.write([advice_point(spot.farm, spot.name, advice, int(now.timestamp() * 1000))])
    with Registry(f"sqlite:///{world.registry_path}") as registry:
        evaluator = Evaluator(registry, store, "Asia/Ho_Chi_Minh", quiet_hours=())
        evaluator.run_once(now)
        evaluator.run_once(now + timedelta(minutes=21))
    store.close()

    def seen(role: str) -> list[dict]:
        with world.client(world.tokens[role]) as http:
            answer = http.get(f"{API}/alerts", params={"state": "firing"})
        assert answer.status_code == 200, answer.text
        return [a for a in answer.json() if a["rule"] == "irrigation"]

    (alert,) = seen("farmer_a")
    assert alert["field_id"] == world.fields["A1"].id and "Tưới hôm nay" in alert["text"]
    assert [a["id"] for a in seen("officer_o1")] == [alert["id"]]
    assert seen("farmer_b") == [] and seen("officer_o2") == []
    for role in ("farmer_b", "officer_o2"):
        with world.client(world.tokens[role]) as http:
            refused = http.post(f"{API}/alerts/{alert['id']}/ack", json={"note": "x"})
        assert refused.status_code == 404, (role, refused.text)
    with world.client(world.tokens["farmer_a"]) as http:
        acked = http.post(f"{API}/alerts/{alert['id']}/ack", json={"note": "đã tưới 20 mm"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["ack_note"] == "đã tưới 20 mm" and acked.json()["acked_at"]
    # the message's one-tap link: a page first (a link preview must not acknowledge), then
    # the button's POST, as the person it was made for; an altered link is refused
    farmer_a = Accounts(db.open_engine(f"sqlite:///{world.registry_path}")).user("0912345678")
    link = ack_url(world.base_url, LINK_SECRET, alert["id"], farmer_a.id, datetime.now(UTC))
    with world.client() as http:
        page = http.get(link)
        assert page.status_code == 200 and "ack-form" in page.text and "Tưới hôm nay" in page.text
        assert http.get(link.replace("s=", "s=x")).status_code == 403
        done = http.post(link, data={"note": "bơm rồi"})
    assert done.status_code == 200 and "ack-done" in done.text
    (after,) = [a for a in seen("farmer_a") if a["id"] == alert["id"]]
    assert after["ack_note"] == "bơm rồi"
    # a reading threshold: the field's farmer sets one, the other farmer cannot see the field
    threshold = {"quantity": "soil_vwc", "below": True, "value": 18.0, "level": 2}
    with world.client(world.tokens["farmer_a"]) as http:
        made = http.post(f"{API}/fields/{world.fields['A1'].id}/thresholds", json=threshold)
    assert made.status_code == 201 and made.json()["quantity"] == "soil_vwc", made.text
    with world.client(world.tokens["farmer_b"]) as http:
        refused = http.post(f"{API}/fields/{world.fields['A1'].id}/thresholds", json=threshold)
    assert refused.status_code == 404
    with world.client() as http:  # counts only, no one's data: open like the gateway's
        metrics = http.get("/metrics").text
    assert 'ruong_alerts{rule="irrigation",state="firing"} 1.0' in metrics
    assert "ruong_alert_outbox_depth" in metrics and "+84" not in metrics


def test_schemathesis_finds_no_server_error_and_no_answer_off_its_schema(world: World) -> None:
    """Every operation but logout and password change with the admin's bearer token (those
    two would end its session); then those two with a throwaway session of their own. Last
    in the module: its random logins throttle 127.0.0.1, and the document's example login
    is farmer A's phone."""
    throwaway = world.session("throwaway", source="127.0.0.6")
    code, output = _schemathesis(
        world,
        world.tokens["admin"],
        "--exclude-path",
        f"{API}/auth/logout",
        "--exclude-path",
        f"{API}/auth/password",
    )
    assert code == 0, output
    assert "Tested: 13" in output  # every operation but the two that end the session
    code, output = _schemathesis(
        world,
        throwaway,
        "--include-path",
        f"{API}/auth/logout",
        "--include-path",
        f"{API}/auth/password",
    )
    assert code == 0, output
    assert "Tested: 2" in output
    log = (world.root / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
