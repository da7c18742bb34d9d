"""The sources of alerts (backend/alerts/rules*.py): what each rule says of already-read
inputs, the promises of issue 14 "Sources" — a sleeping node is not offline, stale data is no
verdict, a forecast's alert says what its advice says, a store outage mutes the node storm —
and that every rule's words exist in both languages."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.alerts.inhibit import Topology, inhibited, step_round
from backend.alerts.lifecycle import Policy, step
from backend.alerts.model import Observation, wording
from backend.alerts.rules import (
    PEST_FALLBACK,
    PEST_KINDS,
    RULES,
    alert_of,
    end_of_day,
    spec_of,
    topology,
)
from backend.alerts.rules_forecast import STALE_AFTER_S, forecast_observation, forecast_observations
from backend.alerts.rules_health import (
    NodeReport,
    gateway_observations,
    gateway_spool_backlog,
    gateway_store_down,
    node_battery_low,
    node_observations,
    node_offline,
    node_outbox_drops,
    node_sensor_faults,
    sleep_s,
)
from backend.alerts.rules_threshold import Threshold, threshold_observation
from backend.firmware_src import firmware_module
from backend.i18n import LANGUAGES, Message, render
from backend.node_health import BATTERY_LOW_V
from backend.registry import NodeInfo
from backend.store.base import FieldValue, Row
from forecasting.pest.rules import REGISTRY as PEST_RULES
from ruong.node_config import REQUIRED_CONFIG
from tests.alerts.core_world import TZ, at, field, gateway, node

NOW = at(15)  # 10 December 2026, 15:00 site time
N1 = node("n1a2b3c4")
LUA_1 = field("12")
GW1 = gateway("gw1")
HOUR = 3600.0

AMOUNT = Message("irrigation.amount", {"mm": 25, "m3": 37.5})
IRRIGATE_TODAY = Message("irrigation.today", {"amount": AMOUNT})
BLAST = Message(
    "pest.advice", {"pest": Message("pest.blast.name"), "reason": Message("pest.blast.ripening")}
)
REFLOOD = Message(
    "awd.reflood",
    {"where": Message("awd.where.below", {"cm": 18}), "limit_cm": 15, "target_cm": 5},
)


def ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def report(
    silent_s: float | None,
    settings: Mapping[str, object] | None = None,
    status: Mapping[str, float] | None = None,
    dropped_before: float | None = None,
) -> NodeReport:
    """N1 on field lua-1, last heard `silent_s` before NOW (None: never)."""
    last = None if silent_s is None else ms(NOW - timedelta(seconds=silent_s))
    battery = {"battery": 3.9} if status is None else status
    return NodeReport(N1, "lua-1", last, battery, dropped_before, settings)


def forecast(kind: str, age_h: float, message: Message, **fields: FieldValue) -> Row:
    """A `forecasts` row as ruong/forecast_job.py `advice_point` writes it, `age_h` old."""
    stored = {"msg": json.dumps(message.as_json(), ensure_ascii=False), **fields}
    tags = {"farm": "ninh-binh-demo", "field": "lua-1", "kind": kind, "model": "m"}
    return Row(ms(NOW - timedelta(hours=age_h)), tags, stored)


# --- the registry ---------------------------------------------------------------------------


def test_every_rule_is_registered_under_its_own_id_at_a_version() -> None:
    assert all(spec.id == rule and spec.version >= 1 for rule, spec in RULES.items())
    assert spec_of("threshold:17") is RULES["threshold"]
    assert spec_of("pest_new_rule") is PEST_FALLBACK
    with pytest.raises(KeyError):
        spec_of("soil_dry")


def test_the_pest_rules_are_those_the_forecasts_write() -> None:
    assert set(PEST_KINDS) == {f"pest_{rule.split('.')[1]}" for rule in PEST_RULES}


def test_the_inhibitor_ids_are_the_inhibitions_own() -> None:
    assert Topology().node_offline_rules <= set(RULES)
    assert Topology().store_down_rules <= set(RULES)


def test_a_rule_refuses_a_subject_of_another_kind() -> None:
    with pytest.raises(ValueError, match="node_offline is about a node"):
        alert_of("node_offline", LUA_1)


# --- node health ----------------------------------------------------------------------------


def test_an_hourly_node_is_not_offline_after_2_h_but_is_after_3_h_5_min() -> None:
    hourly = {"interval_s": 3600}
    quiet = node_offline(report(2 * HOUR, hourly), NOW)
    assert quiet is not None and not quiet.active
    gone = node_offline(report(3 * HOUR + 300, hourly), NOW)
    assert gone is not None and gone.active and gone.level == 2


def test_a_node_without_config_reports_every_15_min_so_46_min_of_silence_is_offline() -> None:
    before = node_offline(report(44 * 60), NOW)
    assert before is not None and not before.active
    after = node_offline(report(46 * 60), NOW)
    assert after is not None and after.active


@given(interval_s=st.integers(60, 6 * 3600), silent_s=st.integers(0, 30 * 24 * 3600))
def test_offline_means_silent_longer_than_three_of_its_own_intervals(
    interval_s: int, silent_s: int
) -> None:
    verdict = node_offline(report(silent_s, {"interval_s": interval_s}), NOW)
    assert verdict is not None and verdict.active == (silent_s > 3 * interval_s)


def test_a_node_that_never_reported_gives_no_verdict_at_all() -> None:
    never = report(None)
    assert node_offline(never, NOW) is None
    assert node_observations(never, NOW) == []


def test_a_day_of_silence_raises_the_offline_alert_to_act_now() -> None:
    verdict = node_offline(report(25 * HOUR), NOW)
    assert verdict is not None and verdict.level == 3


def test_the_offline_words_name_the_node_the_field_and_the_last_report() -> None:
    verdict = node_offline(report(2 * HOUR + 55 * 60), NOW)  # last heard 12:05
    assert verdict is not None and verdict.message is not None
    vi = render(verdict.message, "vi")
    assert vi.startswith("Nút n1a2b3c4 ở ruộng lua-1 không gửi số liệu từ 12:05 ngày 10/12")
    assert "kiểm tra pin và ăng-ten" in vi
    assert "since 12:05 on 10 Dec" in render(verdict.message, "en")


def test_a_node_slowed_by_its_low_battery_is_not_offline_between_its_cycles() -> None:
    # at or below battery_low_v the firmware may sleep its critical interval (4 x 15 min)
    low = report(2 * HOUR, status={"battery": 3.3})
    verdict = node_offline(low, NOW)
    assert verdict is not None and not verdict.active
    gone = node_offline(report(3 * HOUR + 60, status={"battery": 3.3}), NOW)
    assert gone is not None and gone.active


@pytest.mark.parametrize("interval_s", [60, 600, 900, 3600, 4 * 3600])
def test_the_sleeps_are_the_firmwares_own_defaults(interval_s: int) -> None:
    config = firmware_module("config")
    duty = dict(
        zip(
            config.DUTY_KEYS,
            config.parse_config({**REQUIRED_CONFIG, "interval_s": interval_s})["duty"],
            strict=True,
        )
    )
    settings: dict[str, object] = {"interval_s": interval_s}
    assert duty["battery_low_v"] == BATTERY_LOW_V
    assert sleep_s(settings, 3.9) == interval_s
    longest = min(duty["interval_critical_s"], duty["interval_max_s"])
    assert sleep_s(settings, BATTERY_LOW_V) == longest


def test_battery_faults_and_drops_from_the_newest_status() -> None:
    status = {"battery": 3.41, "faults": 2.0, "dropped": 12.0}
    fresh = report(300, status=status, dropped_before=4.0)
    battery, faults, drops = (
        rule(fresh, NOW) for rule in (node_battery_low, node_sensor_faults, node_outbox_drops)
    )
    assert battery is not None and battery.active and battery.level == 2
    assert faults is not None and faults.active and faults.level == 2
    assert drops is not None and drops.active and drops.level == 1
    assert drops.message is not None and "8 lần đo" in render(drops.message, "vi")
    healthy = report(300, status={"battery": 3.9})  # no faults, no dropped: both zero
    assert [o.active for o in node_observations(healthy, NOW)] == [False] * 4


def test_a_reflashed_node_counting_drops_from_zero_again_has_not_dropped() -> None:
    verdict = node_outbox_drops(report(300, status={"dropped": 3.0}, dropped_before=40.0), NOW)
    assert verdict is not None and not verdict.active


def test_a_silent_nodes_stale_values_neither_fire_nor_resolve_their_alerts() -> None:
    silent = report(5 * HOUR, status={"battery": 3.41, "faults": 2.0, "dropped": 12.0})
    assert [o.alert.rule for o in node_observations(silent, NOW)] == ["node_offline"]


# --- gateway health and inhibition ---------------------------------------------------------


def test_a_store_outage_is_the_inhibitions_store_down_and_mutes_the_node_storm() -> None:
    down = gateway_store_down(GW1, store_ok=False)
    assert down is not None and down.active and down.level == 3
    assert down.alert.rule in Topology().store_down_rules
    nodes = [
        NodeInfo("n1a2b3c4", "ninh-binh-demo", "lua-1", "coap", b"k" * 32, revoked=False),
        NodeInfo("n5e6f7a8", "ninh-binh-demo", "lua-2", "mqtt", b"k" * 32, revoked=False),
    ]
    where = topology(nodes, {("ninh-binh-demo", "lua-1"): "12"}, gateways=["gw1"])
    offline = [node_offline(report(5 * HOUR), NOW), node_offline(report(6 * HOUR), NOW)]
    silent = [o for o in offline if o is not None]
    assert silent[0].alert.rule in where.node_offline_rules
    assert inhibited([down.alert], [silent[0].alert], where) == {silent[0].alert.fingerprint}
    # through a whole round: nothing about the node, the store-down alert pending
    verdicts = [down, silent[0]]
    round_ = step_round({}, verdicts, NOW, where, Policy(fire_after=1, pending_s=0))
    assert [t.alert.rule for t in round_.transitions] == ["gateway_store_down"]


def test_the_spool_backlog_speaks_only_while_the_store_answers() -> None:
    late = gateway_spool_backlog(GW1, 11 * 60, store_ok=True)
    assert late is not None and late.active and late.level == 2
    on_time = gateway_spool_backlog(GW1, 60, store_ok=True)
    assert on_time is not None and not on_time.active
    assert gateway_spool_backlog(GW1, 11 * 60, store_ok=False) is None
    assert gateway_spool_backlog(GW1, None, store_ok=True) is None
    assert [o.alert.rule for o in gateway_observations(GW1, 3600, False)] == ["gateway_store_down"]


def test_the_topology_leaves_out_revoked_nodes_and_fields_without_an_id() -> None:
    nodes = [
        NodeInfo("n1", "farm", "lua-1", "coap", b"k" * 32, revoked=False),
        NodeInfo("n2", "farm", "lua-1", "coap", b"k" * 32, revoked=False),
        NodeInfo("n3", "farm", "lua-1", "coap", b"k" * 32, revoked=True),
        NodeInfo("n4", "farm", "unknown", "coap", b"k" * 32, revoked=False),
    ]
    where = topology(nodes, {("farm", "lua-1"): "12"}, gateways=["gw1", "gw2"])
    assert {k: set(v) for k, v in where.field_nodes.items()} == {"12": {"n1", "n2"}}
    assert {k: set(v) for k, v in where.gateway_nodes.items()} == {
        "gw1": {"n1", "n2", "n4"},
        "gw2": {"n1", "n2", "n4"},
    }


# --- forecasts ------------------------------------------------------------------------------


def test_a_forecast_older_than_36_h_is_no_verdict_not_an_all_clear() -> None:
    assert STALE_AFTER_S == 36 * HOUR
    old = forecast("pest_blast", 40, BLAST, level=3)
    assert forecast_observation(old, LUA_1, NOW) is None
    assert forecast_observations([old], LUA_1, NOW) == []


def test_pest_risk_alerts_from_level_2_at_the_forecasts_level() -> None:
    low = forecast_observation(forecast("pest_blast", 9, BLAST, level=1), LUA_1, NOW)
    assert low is not None and not low.active
    risk = forecast_observation(forecast("pest_blast", 9, BLAST, level=2), LUA_1, NOW)
    assert risk is not None and risk.active and risk.level == 2
    assert risk.alert.rule == "pest_blast"
    assert risk.message is not None and risk.message.params["advice"] == BLAST
    # it holds until the forecast would be stale: tomorrow's run renews it
    assert risk.expires_at == NOW - timedelta(hours=9) + timedelta(seconds=STALE_AFTER_S)


def test_irrigation_due_today_alerts_until_local_midnight_in_the_advices_own_words() -> None:
    row = forecast("irrigation", 9, IRRIGATE_TODAY, level=3, days_ahead=0, due="2026-12-10")
    verdict = forecast_observation(row, LUA_1, NOW)
    assert verdict is not None and verdict.active and verdict.level == 3
    assert verdict.message == IRRIGATE_TODAY
    assert verdict.expires_at == datetime(2026, 12, 11, 0, 0, tzinfo=TZ)
    assert verdict.expires_at is not None and verdict.expires_at.utcoffset() == timedelta(hours=7)


def test_irrigation_overdue_alerts_and_not_yet_due_does_not() -> None:
    overdue = forecast("irrigation", 9, IRRIGATE_TODAY, level=2, days_ahead=-1)
    verdict = forecast_observation(overdue, LUA_1, NOW)
    assert verdict is not None and verdict.active
    later = forecast("irrigation", 9, IRRIGATE_TODAY, level=2, days_ahead=2)
    verdict = forecast_observation(later, LUA_1, NOW)
    assert verdict is not None and not verdict.active
    # due now, but put off for forecast rain (forecasting.advice postpone_for_rain): no alert
    wait = forecast(
        "irrigation", 9, IRRIGATE_TODAY, level=2, days_ahead=0, postponed_for_rain_mm=18.0
    )
    verdict = forecast_observation(wait, LUA_1, NOW)
    assert verdict is not None and not verdict.active


def test_yesterdays_irrigate_today_does_not_start_an_alert_after_midnight() -> None:
    just_after = at(0, 30, day=11)
    row = Row(
        ms(at(6)), {"kind": "irrigation"}, {"level": 3, "msg": json.dumps(IRRIGATE_TODAY.as_json())}
    )
    verdict = forecast_observation(row, LUA_1, just_after)
    assert verdict is not None and verdict.expires_at == end_of_day(at(6))
    assert step(None, verdict, just_after) == (None, [])


def test_awd_alerts_to_reflood_now_until_the_end_of_the_day() -> None:
    reflood = forecast("awd", 9, REFLOOD, level=3, action="irrigate")
    verdict = forecast_observation(reflood, LUA_1, NOW)
    assert verdict is not None and verdict.active and verdict.level == 3
    assert verdict.message == REFLOOD and verdict.expires_at == at(0, day=11)
    drain = forecast_observation(forecast("awd", 9, REFLOOD, level=2, action="drain"), LUA_1, NOW)
    assert drain is not None and not drain.active


def test_a_forecast_without_a_level_or_words_is_no_verdict() -> None:
    no_data = forecast("awd", 9, Message("awd.no_data"))
    assert forecast_observation(no_data, LUA_1, NOW) is None
    legacy = Row(ms(NOW), {"kind": "irrigation"}, {"level": 3, "text_vi": "Tưới hôm nay"})
    assert forecast_observation(legacy, LUA_1, NOW) is None


def test_the_newest_forecast_of_each_kind_decides_and_advice_only_kinds_are_skipped() -> None:
    rows = [
        forecast("pest_blast", 30, BLAST, level=3),
        forecast("pest_blast", 6, BLAST, level=0),
        forecast("et0", 6, Message("et0.yesterday", {"day": "2026-12-09", "mm": 3.1}), level=0),
        forecast("irrigation", 6, IRRIGATE_TODAY, level=3, days_ahead=0),
    ]
    verdicts = forecast_observations(rows, LUA_1, NOW)
    assert [(o.alert.rule, o.active) for o in verdicts] == [
        ("irrigation", True),
        ("pest_blast", False),
    ]
    with pytest.raises(ValueError, match="make no alerts"):
        forecast_observation(rows[2], LUA_1, NOW)


# --- thresholds -----------------------------------------------------------------------------

DRY = Threshold(17, "12", "soil_vwc", below=True, value=20.0, level=2)
HOT = Threshold(18, "12", "air_temp", below=False, value=35.0, level=3)


def reading(value: float, age_s: float = 600) -> tuple[int, float]:
    return ms(NOW - timedelta(seconds=age_s)), value


def test_a_threshold_alerts_below_or_above_its_value_at_its_level() -> None:
    dry = threshold_observation(DRY, LUA_1, reading(18.4), NOW)
    assert dry is not None and dry.active and dry.level == 2
    assert dry.alert.rule == "threshold:17" and dry.alert.subject == LUA_1
    assert dry.message is not None
    assert render(dry.message, "vi").startswith("Độ ẩm đất 18,4 % dưới ngưỡng 20,0 %")
    wet = threshold_observation(DRY, LUA_1, reading(20.0), NOW)  # at the value: not beyond
    assert wet is not None and not wet.active
    hot = threshold_observation(HOT, LUA_1, reading(36.2), NOW)
    assert hot is not None and hot.active and hot.level == 3
    assert hot.message is not None and "above the limit 35.0 °C" in render(hot.message, "en")
    mild = threshold_observation(HOT, LUA_1, reading(30.0), NOW)
    assert mild is not None and not mild.active


def test_a_threshold_without_a_recent_reading_gives_no_verdict() -> None:
    assert threshold_observation(DRY, LUA_1, None, NOW) is None
    assert threshold_observation(DRY, LUA_1, reading(10.0, age_s=7 * HOUR), NOW) is None


def test_each_threshold_is_its_own_alert_and_an_edit_continues_it() -> None:
    very_dry = Threshold(19, "12", "soil_vwc", below=True, value=12.0, level=3)
    one, two = (threshold_observation(t, LUA_1, reading(10.0), NOW) for t in (DRY, very_dry))
    assert one is not None and two is not None
    assert one.alert.fingerprint != two.alert.fingerprint
    edited = Threshold(17, "12", "soil_vwc", below=True, value=22.0, level=2, version=2)
    again = threshold_observation(edited, LUA_1, reading(10.0), NOW)
    assert again is not None and again.alert.version == 2
    assert again.alert.fingerprint == one.alert.fingerprint


def test_a_threshold_is_checked_when_it_is_made_and_used() -> None:
    with pytest.raises(ValueError, match="no threshold on"):
        Threshold(1, "12", "dropped", below=False, value=1.0)
    with pytest.raises(ValueError, match="level"):
        Threshold(1, "12", "soil_vwc", below=True, value=20.0, level=4)
    with pytest.raises(ValueError, match="is on field 12"):
        threshold_observation(DRY, field("13"), reading(10.0), NOW)


# --- words ----------------------------------------------------------------------------------


def every_rule_active() -> list[Observation]:
    """One active observation of each registered rule (and a threshold per decimals)."""
    status = {"battery": 3.41, "faults": 2.0, "dropped": 12.0}
    made = [
        *node_observations(report(300, status=status), NOW),
        node_offline(report(5 * HOUR), NOW),
        *gateway_observations(GW1, None, False),
        gateway_spool_backlog(GW1, 3600, True),
        forecast_observation(forecast("irrigation", 6, IRRIGATE_TODAY, level=3), LUA_1, NOW),
        forecast_observation(forecast("awd", 6, REFLOOD, level=3, action="irrigate"), LUA_1, NOW),
        *(
            forecast_observation(forecast(kind, 6, BLAST, level=3), LUA_1, NOW)
            for kind in PEST_KINDS
        ),
        *(
            threshold_observation(Threshold(i, "12", q, below, 1.0), LUA_1, reading(v), NOW)
            for i, (q, below, v) in enumerate(
                [
                    ("soil_vwc", True, 0.5),
                    ("water_level", True, -0.2),
                    ("air_pressure", False, 99_000.0),
                ],
                start=1,
            )
        ),
    ]
    return [o for o in made if o is not None and o.active]


def test_every_rule_has_an_example_here() -> None:
    assert {spec_of(o.alert.rule).id for o in every_rule_active()} == set(RULES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_rules_words_render_in_both_languages_without_a_missing_message(
    lang: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="backend.i18n")
    for o in every_rule_active():
        assert o.message is not None
        for kind in ("firing", "resolved"):
            text = render(wording(kind, o.alert, o.message, o.expires_at, o.level), lang)
            assert o.alert.source in text and "{" not in text, text
    assert not caplog.records, [r.getMessage() for r in caplog.records]
