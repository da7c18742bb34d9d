"""The SenML pack speaks the system's vocabulary, and the simulated paddy gives plausible,
reproducible northern-Vietnam readings on both MicroPython and CPython."""

from __future__ import annotations

import json

import cbor2
import pytest

from backend.quantities import QUANTITIES

DAY = 86400
JULY_2026 = 1782864000  # 2026-07-01T00:00:00Z
JANUARY_2026 = 1767225600  # 2026-01-01T00:00:00Z
PLAUSIBLE = {  # northern Vietnam paddy, per the firmware brief
    "soil_vwc": (20, 45),
    "soil_temp": (12, 34),
    "air_temp": (8, 38),
    "air_rh": (60, 100),
    "air_pressure": (99000, 102500),
    "rain": (0, 60),
    "leaf_wet": (0, 1),
    "water_level": (-0.25, 0.11),  # AWD to -15 cm, rain ponds up to the bund (+10 cm)
    "battery": (3.6, 4.2),
    "rssi": (-95, -60),
}


def test_firmware_vocabulary_matches_backend_quantities(fw) -> None:
    senml = fw("senml")
    table = {name: (unit, low, high) for name, unit, low, high in senml.QUANTITIES}
    assert table == {q.name: (q.unit, q.low, q.high) for q in QUANTITIES.values()}


def test_pack_layout(fw) -> None:
    senml = fw("senml")
    pack = cbor2.loads(senml.encode("n1", 1795643968, {"rssi": -80, "soil_vwc": 33.5}))
    assert pack == [
        {-2: "n1:", -3: 1795643968, 0: "soil_vwc", 1: "%", 2: 33.5},
        {0: "rssi", 1: "dBm", 2: -80},
    ]


@pytest.mark.parametrize(
    ("values", "time_s"),
    [
        ({"soil_vwc": 101.0}, 1795643968),
        ({"leaf_wet": float("nan")}, 1795643968),
        ({"ph": 7.0}, 1795643968),
        ({"battery": "3.9"}, 1795643968),
        ({}, 1795643968),
        ({"battery": 3.9}, 1000),  # would be read as relative time (RFC 8428 s4.5.3)
    ],
)
def test_pack_refuses_what_the_gateway_would_refuse(fw, values: dict, time_s: int) -> None:
    senml = fw("senml")
    with pytest.raises(senml.SenMLError):
        senml.encode("n1", time_s, values)


def sample_year(fw, seed: int, step_s: int = 3 * 3600) -> list[dict]:
    field = fw("sim_field").Field("ruong-1", seed)
    return [field.sample(t) for t in range(JANUARY_2026, JANUARY_2026 + 365 * DAY, step_s)]


def test_simulated_field_is_plausible_all_year(fw) -> None:
    samples = sample_year(fw, seed=1)
    for name, (low, high) in PLAUSIBLE.items():
        values = [s[name] for s in samples]
        assert low <= min(values) and max(values) <= high, (name, min(values), max(values))
    rain_mm = sum(s["rain"] for s in samples)
    assert 800 < rain_mm < 3000, rain_mm  # Ninh Binh: ~1,800 mm a year


def test_simulated_field_has_seasons_and_days(fw) -> None:
    field = fw("sim_field").Field("ruong-1", 3)
    hour = 3600

    def mean_temp(start: int, hour_of_day: int) -> float:
        # local time = UTC+7
        times = [start + d * DAY + (hour_of_day - 7) % 24 * hour for d in range(20)]
        return sum(field.sample(t)["air_temp"] for t in times) / len(times)

    assert mean_temp(JULY_2026, 15) > mean_temp(JANUARY_2026, 15) + 8  # hot monsoon summer
    assert mean_temp(JULY_2026, 15) > mean_temp(JULY_2026, 4) + 4  # afternoon > pre-dawn


def test_simulated_field_is_seeded(fw) -> None:
    assert sample_year(fw, 1, DAY) == sample_year(fw, 1, DAY)
    assert sample_year(fw, 1, DAY) != sample_year(fw, 2, DAY)


@pytest.mark.micropython
def test_micropython_and_cpython_simulate_the_same_field(fw, mp) -> None:
    times = list(range(JULY_2026, JULY_2026 + 3 * DAY, 5400))
    script = (
        "import sim_field, json\n"
        "f = sim_field.Field('ruong-2', 9)\n"
        f"for t in {times!r}:\n"
        "    v = f.sample(t)\n"
        "    print(json.dumps([[k, repr(v[k])] for k in sorted(v)]))\n"
    )
    lines = mp.run(script).stdout.splitlines()
    field = fw("sim_field").Field("ruong-2", 9)
    for t, line in zip(times, lines, strict=True):
        expected = field.sample(t)
        got = {k: float(text) for k, text in json.loads(line)}
        assert got == pytest.approx(expected, abs=1e-9)
