"""Routing (backend/alerts/routing.py): who is told, on which channel, when; the daily budget
folded into a digest; escalation to the province; idempotency keys (issue 14, "Routing by
role and scope", "Acknowledge and escalate")."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.alerts.lifecycle import Policy, acknowledge
from backend.alerts.model import Alert, AlertState, Person, Transition, TransitionKind, wording
from backend.alerts.routing import (
    DayLedger,
    LedgerKey,
    Plan,
    delivery_key,
    parse_quiet_hours,
    plan,
    plan_escalations,
    recipients,
)
from backend.i18n import render
from tests.alerts.core_world import (
    DO,
    OTHER_ORG,
    TZ,
    alert,
    at,
    farmer,
    field,
    node,
    officer,
    on,
    run,
    technician,
)

A, B = "Gia Hòa", "Gia Vân"
FARMER, NEIGHBOUR = farmer(100), farmer(101)
OFFICER_A, OFFICER_B, OFFICER_AB = officer(200, A), officer(201, B), officer(202, A, B)
TECH, TECH_OTHER = technician(300), technician(301, OTHER_ORG)
PROVINCE = [officer(400, A, B), officer(401)]
PEOPLE = [FARMER, NEIGHBOUR, OFFICER_A, OFFICER_B, OFFICER_AB, TECH, TECH_OTHER]
FIELD_A = alert(field("12", A, owner=100))


def said(
    a: Alert,
    when: datetime,
    level: int = 2,
    kind: TransitionKind = "firing",
    seq: int = 1,
    episode: str = "e1",
) -> Transition:
    return Transition(a, episode, seq, kind, when, level, wording(kind, a, DO, None, level), DO)


def to(result: Plan, person: Person) -> list[datetime]:
    return [d.send_at for d in result.deliveries if d.person.id == person.id]


def test_quiet_hours_hold_a_level_2_alert_until_six_and_let_a_level_3_through() -> None:
    late = plan([said(FIELD_A, at(22), level=2)], [FARMER], {})
    assert to(late, FARMER) == [at(6, day=11)]
    urgent = plan([said(FIELD_A, at(22), level=3)], [FARMER], {})
    assert to(urgent, FARMER) == [at(22)]
    # a reminder or an all-clear of level 3 can wait until morning
    repeat = plan([said(FIELD_A, at(23), level=3, kind="repeat", seq=2)], [FARMER], {})
    assert to(repeat, FARMER) == [at(6, day=11)]
    dawn = plan([said(FIELD_A, at(3), level=2)], [FARMER], {})
    assert to(dawn, FARMER) == [at(6)]
    day = plan([said(FIELD_A, at(14), level=2)], [FARMER], {})
    assert to(day, FARMER) == [at(14)]
    night_owl = Person(100, quiet_hours=None)
    assert to(plan([said(FIELD_A, at(22))], [night_owl], {}), night_owl) == [at(22)]


def test_past_the_daily_budget_messages_fold_into_one_digest_never_dropped() -> None:
    ledger: dict[LedgerKey, DayLedger] = {}
    plain, digests = [], []
    said_today = [said(alert(field(str(n), A, owner=100)), at(8 + n)) for n in range(12)]
    for t in said_today:
        result = plan([t], [FARMER], ledger)
        ledger = result.ledger
        plain += [d for d in result.deliveries if not d.digest]
        digests += [d for d in result.deliveries if d.digest]
    assert [d.transition for d in plain] == said_today[:10]
    # the 11th and 12th: one digest (one key), sent when the day's sending hours end
    assert len({d.key for d in digests}) == 1
    digest = digests[-1]
    assert [h.transition for h in digest.held] == said_today[10:]
    assert digest.send_at == at(21) and digest.transition is None
    words = render(digest.message, "vi")
    assert words.startswith("Để bạn không bị làm phiền, 2 cảnh báo ngày 10/12")
    assert "Ruộng 10: Tưới hôm nay" in words and "Ruộng 11: Tưới hôm nay" in words
    assert render(digest.subject, "en") == "2 alerts held back on 10 Dec"

    # a level-3 alert counts but never folds; the next day starts a new budget
    urgent = plan([said(FIELD_A, at(19), level=3)], [FARMER], ledger)
    assert [d.digest for d in urgent.deliveries] == [False]
    tomorrow = plan([said(FIELD_A, at(8, day=11), seq=2, kind="repeat")], [FARMER], ledger)
    assert [d.digest for d in tomorrow.deliveries] == [False]
    # planned again, a transition is the same delivery and is not counted twice
    again = plan([said_today[4]], [FARMER], ledger)
    assert [d.key for d in again.deliveries] == [plain[4].key] and again.ledger == ledger
    refolded = plan([said_today[11]], [FARMER], ledger)
    assert refolded.deliveries == (digest,)


def test_a_message_held_overnight_counts_for_the_day_it_is_sent() -> None:
    result = plan([said(FIELD_A, at(22))], [FARMER], {})
    assert list(result.ledger) == [(100, at(6, day=11).date())]


def test_an_officer_of_commune_a_never_receives_commune_b_alerts() -> None:
    field_b = alert(field("20", B, owner=101))
    for level in (1, 2, 3):
        told_a = {p.id for p in recipients(FIELD_A, level, PEOPLE)}
        told_b = {p.id for p in recipients(field_b, level, PEOPLE)}
        officers = {200, 202} if level >= 2 else set()
        assert told_a == {100} | officers  # the owner, and the officers of A from level 2
        assert told_b == {101} | ({201, 202} if level >= 2 else set())
    unowned = alert(field("30", None, owner=None))
    assert recipients(unowned, 3, PEOPLE) == []


def test_technicians_get_their_organisation_s_node_health_and_nobody_else_does() -> None:
    offline = alert(node("n1a2b3c4"), "node_offline")
    assert [p.id for p in recipients(offline, 3, PEOPLE)] == [300]
    assert [p.id for p in recipients(alert(node("n9", OTHER_ORG)), 1, PEOPLE)] == [301]


communes = st.sampled_from([A, B, "Gia Sinh"])


@settings(max_examples=200, deadline=None)
@given(
    fields=st.lists(st.tuples(communes, st.sampled_from([100, 101, None]), st.integers(1, 3))),
)
def test_scope_holds_for_any_fields(fields: list[tuple[str, int | None, int]]) -> None:
    for n, (commune, owner, level) in enumerate(fields):
        a = alert(field(str(n), commune, owner=owner))
        for person in recipients(a, level, PEOPLE):
            is_owner = person.id == owner
            covers = any(commune in g.communes for g in person.grants if g.role == "officer")
            assert is_owner or (covers and level >= 2), (person.name, commune, owner, level)


def test_channels_follow_the_person_s_order_where_they_have_an_address() -> None:
    person = Person(1, phone="+84912345678", channels=("email", "zalo", "sms", "zalo"))
    assert person.reachable() == ("zalo", "sms")
    assert Person(2, channels=("sms",)).reachable() == ("inbox",)
    assert plan([said(FIELD_A, at(9))], [person], {}).deliveries == ()  # not theirs
    result = plan([said(FIELD_A, at(9))], [FARMER, OFFICER_A], {})
    assert [d.channels for d in result.deliveries] == [("zalo", "sms"), ("email",)]


def _urgent_since_eight() -> AlertState:
    """A level-3 alert on field 12 that fired at 08:00 (pending from 07:40)."""
    state, made = run(at(7, 40), at(8, 1), lambda now, i: on(FIELD_A, level=3))
    assert state is not None and [t.at for t in made] == [at(8)]
    return state


def test_an_unacknowledged_level_3_alert_goes_to_the_province_after_4_h() -> None:
    state = _urgent_since_eight()
    assert plan_escalations(state, at(11, 59), [PROVINCE], {}).deliveries == ()
    result = plan_escalations(state, at(12, 5), [PROVINCE], {})
    assert [(d.person.id, d.send_at) for d in result.deliveries] == [(400, at(12)), (401, at(12))]
    words = render(result.deliveries[0].message, "en")
    assert words.startswith("Field 12: Not acknowledged after 4 h: Irrigate today")
    # the next list after another period; each step once, under the same keys on every call
    national = [officer(500)]
    later = plan_escalations(state, at(16, 30), [PROVINCE, national], result.ledger)
    assert [d.person.id for d in later.deliveries] == [400, 401, 500]
    assert {d.key for d in result.deliveries} < {d.key for d in later.deliveries}


def test_an_acknowledgement_stops_the_chain() -> None:
    state = _urgent_since_eight()
    before = acknowledge(state, at(11))
    assert plan_escalations(before, at(17), [PROVINCE, [officer(500)]], {}).deliveries == ()
    between = acknowledge(state, at(13))
    steps = plan_escalations(between, at(17), [PROVINCE, [officer(500)]], {})
    assert [d.person.id for d in steps.deliveries] == [400, 401]  # step 2 was due after the ack


def test_only_a_firing_level_3_field_alert_escalates_and_through_quiet_hours() -> None:
    state = _urgent_since_eight()
    assert plan_escalations(replace(state, level=2), at(13), [PROVINCE], {}).deliveries == ()
    resolved = replace(state, status="resolved")
    assert plan_escalations(resolved, at(13), [PROVINCE], {}).deliveries == ()
    night = replace(state, peak_at=at(19))  # due at 23:00, inside the quiet hours
    result = plan_escalations(night, at(23, 1), [PROVINCE], {})
    assert {d.send_at for d in result.deliveries} == {at(23)}


def test_an_expired_alert_sends_nothing_and_a_resolved_one_reaches_who_was_told() -> None:
    expired = said(FIELD_A, at(0, day=11), level=3, kind="expired", seq=2)
    assert plan([expired], PEOPLE, {}).deliveries == ()
    resolved = said(FIELD_A, at(10), level=3, kind="resolved", seq=2)
    result = plan([resolved], PEOPLE, {})
    assert {d.person.id for d in result.deliveries} == {100, 200, 202}
    assert render(result.deliveries[0].subject, "vi") == "Hết cảnh báo: Ruộng 12"


def test_idempotency_keys_are_deterministic_and_distinct_per_episode_transition_person() -> None:
    steps: list[tuple[TransitionKind, int]] = [
        ("firing", 1),
        ("repeat", 2),
        ("repeat", 3),
        ("resolved", 4),
    ]
    ts = [said(FIELD_A, at(9), episode=e, kind=k, seq=s) for e in ("e1", "e2") for k, s in steps]
    keys = [delivery_key(t, p.id) for t in ts for p in (FARMER, OFFICER_A)]
    assert len(set(keys)) == len(keys) == 16
    assert keys == [delivery_key(t, p.id) for t in ts for p in (FARMER, OFFICER_A)]
    first = plan(ts, PEOPLE, {})
    assert [d.key for d in first.deliveries] == [d.key for d in plan(ts, PEOPLE, {}).deliveries]


def test_quiet_hours_are_read_from_the_config_form() -> None:
    assert parse_quiet_hours("21:00-06:00") == (time(21), time(6))
    assert parse_quiet_hours("") is None
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_quiet_hours("21h-6h")
    assert Policy().remind_after(1) is None and TZ.key == "Asia/Ho_Chi_Minh"
