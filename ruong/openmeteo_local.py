"""A local weather-forecast server speaking Open-Meteo's `/v1/forecast`, from the weather generator.

Place in the data path: the demo (and the tests) point `[weather] url` at it, so the forecast
job fetches forecasts through the same client (`ruong.weather_feed`) and the same JSON shape
as from https://api.open-meteo.com, with no Internet. Run it with
`python -m ruong.openmeteo_local --port P [--seed S] [--config ruong.toml]` (it prints
"open-meteo local on http://127.0.0.1:P" when it listens; `--config` takes the demo's
simulated `[clock]`), or in a process with :func:`start` (a background thread) or
:func:`serve` (blocking).

The contract (Open-Meteo forecast API documentation, https://open-meteo.com/en/docs):
`GET /v1/forecast?latitude=..&longitude=..&hourly=a,b,..` with the optional `timezone`
(an IANA zone, GMT/UTC, or auto: here Asia/Ho_Chi_Minh, the generator's climate),
`timeformat` (iso8601 or unixtime), `wind_speed_unit` (kmh or ms), `temperature_unit`
(celsius), `precipitation_unit` (mm), `forecast_days` (0-16, default 7), `past_days` (0-92)
and `elevation` (m). The answer has latitude, longitude, generationtime_ms,
utc_offset_seconds, timezone, timezone_abbreviation, elevation, hourly_units and hourly; the
hours run from 00:00 local of today minus `past_days` for the days asked. A parameter it does
not know, a missing or bad latitude/longitude, or an unknown variable is answered 400 with
Open-Meteo's error shape `{"error": true, "reason": "..."}`.

The weather: one run of `forecasting.weather.generate_daily` per year and site, with `seed`,
for the requested latitude and elevation, :data:`GENERATED_DAYS` days from 1 January of the
year of the day before the first day asked for (always the same length, because the
generator's draws depend on it), made hourly by `forecasting.soil_sim.hourly_weather`
(`forecasting.weather.sensor_series` for temperature, humidity and rain; the day's Rs shared
by the hourly extraterrestrial radiation; hourly ET0 by FAO-56 eq. 53 with
`forecasting.et0.hourly`). So a date's weather is the same in every answer of the year: a
perfect forecast of the generated weather, which does not change as the day comes near (on
1 January the next year's run takes over). The seed alone sets the rain, so sites a few km
apart share their rain days (one storm covers the delta); the coordinates set the sun
(radiation, solar time, ET0).

Each variable as Open-Meteo defines it: temperature_2m, relative_humidity_2m and
wind_speed_10m are instants at the stamp (the generator's u2 raised to 10 m by inverting
FAO-56 eq. 47); precipitation, precipitation_probability, shortwave_radiation (W m-2, the
hour's mean) and et0_fao_evapotranspiration are the preceding hour's. ET0 is at least 0 (the
dew of a negative hour is not evapotranspiration). precipitation is rounded to 0.01 mm
(Open-Meteo: 0.1 mm) so the days' totals stay the generator's. precipitation_probability is
the generator's own rain (an hour of >= 0.1 mm, Open-Meteo's threshold, is 100 %) blurred in
time: 75, 50 and 25 % one, two and three hours from a wet hour, 0 beyond (our assumption, a
forecast's timing uncertainty of a few hours).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from backend.clock import Clock
from backend.config import load_settings
from forecasting import soil_sim, weather
from forecasting.et0 import wind_at_2m

log = logging.getLogger(__name__)

PATH = "/v1/forecast"
PARAMETERS = {
    "latitude",
    "longitude",
    "hourly",
    "timezone",
    "timeformat",
    "wind_speed_unit",
    "temperature_unit",
    "precipitation_unit",
    "forecast_days",
    "past_days",
    "elevation",
}
UNITS = {
    "temperature_2m": "°C",
    "relative_humidity_2m": "%",
    "precipitation": "mm",
    "precipitation_probability": "%",
    "wind_speed_10m": "km/h",  # or m/s with wind_speed_unit=ms
    "shortwave_radiation": "W/m²",
    "et0_fao_evapotranspiration": "mm",
}
WIND_UNITS = {"kmh": (3.6, "km/h"), "ms": (1.0, "m/s")}
WET_HOUR_MM = 0.1  # Open-Meteo's probability is of more than 0.1 mm in the hour
BLUR = (1.0, 0.75, 0.5, 0.25)  # probability at 0, 1, 2, 3 hours from a wet hour (assumed)
U10_PER_U2 = 1.0 / float(np.asarray(wind_at_2m(1.0, 10.0)))  # FAO-56 eq. 47 backwards
# one run per year: the year, 16 forecast days into the next and 92 past days of it
GENERATED_DAYS = 366 + 16 + 92 + 2


class RequestError(ValueError):
    """A request the API refuses (400); the message is the answer's `reason`."""


@dataclass(frozen=True)
class ForecastRequest:
    """A parsed `/v1/forecast` query."""

    latitude: float
    longitude: float
    hourly: tuple[str, ...]
    timezone: str
    unixtime: bool
    wind_unit: str
    forecast_days: int
    past_days: int
    elevation: float


def _one(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise RequestError(f"Parameter '{name}' is given more than once")
    return values[0]


def _float(query: Mapping[str, Sequence[str]], name: str, low: float, high: float) -> float:
    text = _one(query, name)
    if text is None:
        raise RequestError(f"Parameter '{name}' is required")
    try:
        value = float(text)
    except ValueError:
        raise RequestError(f"Parameter '{name}' must be a floating point number") from None
    if not low <= value <= high:
        raise RequestError(f"Parameter '{name}' must be in range of {low:g} to {high:g}")
    return value


def _int(query: Mapping[str, Sequence[str]], name: str, default: int, high: int) -> int:
    text = _one(query, name)
    if text is None:
        return default
    if not text.isdigit() or int(text) > high:
        raise RequestError(f"Parameter '{name}' must be an integer from 0 to {high}")
    return int(text)


def _choice(query: Mapping[str, Sequence[str]], name: str, allowed: Sequence[str]) -> str:
    text = _one(query, name)
    if text is None:
        return allowed[0]
    if text not in allowed:
        raise RequestError(f"Parameter '{name}' must be one of {', '.join(allowed)}")
    return text


def parse_request(query: Mapping[str, Sequence[str]]) -> ForecastRequest:
    """The query string's parameters (as `urllib.parse.parse_qs` returns them), checked.

    Raises RequestError (answered 400) naming what is wrong."""
    unknown = sorted(set(query) - PARAMETERS)
    if unknown:
        raise RequestError(f"Unknown parameter '{unknown[0]}'")
    latitude = _float(query, "latitude", -90.0, 90.0)
    longitude = _float(query, "longitude", -180.0, 180.0)
    # Open-Meteo takes a comma-separated list, or the parameter repeated
    hourly = tuple(v for text in query.get("hourly", []) for v in text.split(",") if v)
    for name in hourly:
        if name not in UNITS:
            raise RequestError(f"Unknown hourly variable '{name}'")
    timezone = _one(query, "timezone") or "GMT"
    if timezone == "auto":
        timezone = weather.TIME_ZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RequestError(f"Invalid timezone '{timezone}'") from None
    _choice(query, "temperature_unit", ("celsius",))
    _choice(query, "precipitation_unit", ("mm",))
    elevation = (
        _float(query, "elevation", -500.0, 9000.0)
        if _one(query, "elevation") is not None
        else weather.ELEVATION
    )
    return ForecastRequest(
        latitude=latitude,
        longitude=longitude,
        hourly=hourly,
        timezone=timezone,
        unixtime=_choice(query, "timeformat", ("iso8601", "unixtime")) == "unixtime",
        wind_unit=_choice(query, "wind_speed_unit", ("kmh", "ms")),
        forecast_days=_int(query, "forecast_days", 7, 16),
        past_days=_int(query, "past_days", 0, 92),
        elevation=elevation,
    )


@functools.lru_cache(maxsize=32)
def _generated(
    epoch: dt.date,
    latitude: float,
    longitude: float,
    elevation: float,
    timezone: str,
    seed: int,
) -> pd.DataFrame:
    """The generator's hourly weather from local midnight of `epoch` for GENERATED_DAYS
    days, with the hour's rain probability (module notes); timestamps = start of each hour."""
    daily = weather.generate_daily(
        epoch, GENERATED_DAYS, seed=seed, latitude=latitude, elevation=elevation
    )
    hourly = soil_sim.hourly_weather(daily, seed, latitude, longitude, elevation, timezone)
    wet = (hourly["rain"].to_numpy() >= WET_HOUR_MM).astype(float)
    prob = wet.copy()
    for k, weight in enumerate(BLUR[1:], start=1):
        prob[k:] = np.maximum(prob[k:], weight * wet[:-k])
        prob[:-k] = np.maximum(prob[:-k], weight * wet[k:])
    hourly["rain_prob"] = 100.0 * prob
    return hourly


def _rounded(values: np.ndarray, digits: int) -> list[float | None]:
    """JSON numbers, null for NaN (as Open-Meteo marks a missing value)."""
    return [None if math.isnan(v) else round(float(v), digits) for v in values]


def forecast(request: ForecastRequest, now_s: float, seed: int = 0) -> dict[str, Any]:
    """The `/v1/forecast` answer for `request` at site time `now_s` (Unix seconds), from
    the generator's run with `seed` (module notes)."""
    started = time.perf_counter()
    zone = ZoneInfo(request.timezone)
    now = dt.datetime.fromtimestamp(now_s, zone)
    first = now.date() - dt.timedelta(days=request.past_days)
    n_days = request.past_days + request.forecast_days
    # the hour before the first stamp is needed too: its sums are stamped 00:00
    epoch = dt.date((first - dt.timedelta(days=1)).year, 1, 1)
    stamps = pd.date_range(
        pd.Timestamp(first).tz_localize(request.timezone),
        pd.Timestamp(first + dt.timedelta(days=n_days)).tz_localize(request.timezone),
        freq="h",
        inclusive="left",
    )
    hourly: dict[str, list[Any]] = {}
    if request.unixtime:
        hourly["time"] = [int(t.timestamp()) for t in stamps]
    else:
        hourly["time"] = [t.strftime("%Y-%m-%dT%H:%M") for t in stamps]
    units: dict[str, str] = {"time": "unixtime" if request.unixtime else "iso8601"}
    if n_days and request.hourly:
        gen = _generated(
            epoch,
            round(request.latitude, 4),
            round(request.longitude, 4),
            request.elevation,
            request.timezone,
            seed,
        )
        at = gen.reindex(stamps)  # instants at the stamp
        before = gen.reindex(stamps - pd.Timedelta(hours=1))  # the hour ending at the stamp
        factor, wind_unit = WIND_UNITS[request.wind_unit]
        series = {
            "temperature_2m": (at["air_temp"].to_numpy(), 1),
            "relative_humidity_2m": (at["air_rh"].to_numpy(), 0),
            "precipitation": (before["rain"].to_numpy(), 2),
            "precipitation_probability": (before["rain_prob"].to_numpy(), 0),
            "wind_speed_10m": (at["u2"].to_numpy() * U10_PER_U2 * factor, 2),
            # MJ m-2 in the hour -> mean W m-2
            "shortwave_radiation": (before["rs"].to_numpy() * 1e6 / 3600.0, 1),
            "et0_fao_evapotranspiration": (np.maximum(before["et0"].to_numpy(), 0.0), 3),
        }
        for name in request.hourly:
            values, digits = series[name]
            hourly[name] = _rounded(values, digits)
            units[name] = wind_unit if name == "wind_speed_10m" else UNITS[name]
    offset = now.utcoffset() or dt.timedelta(0)
    return {
        "latitude": round(request.latitude, 4),
        "longitude": round(request.longitude, 4),
        "generationtime_ms": round((time.perf_counter() - started) * 1000.0, 3),
        "utc_offset_seconds": int(offset.total_seconds()),
        "timezone": request.timezone,
        "timezone_abbreviation": now.tzname() or request.timezone,
        "elevation": request.elevation,
        "hourly_units": units,
        "hourly": hourly,
    }


class OpenMeteoLocal:
    """The server on a background thread: `url` to point `[weather] url` at, `requests` the
    number of forecasts answered, :meth:`close` to stop."""

    def __init__(
        self,
        port: int = 0,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self.clock, self.seed = clock, seed
        self.requests = 0
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def answer(self, target: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON document) for a request target (path and query)."""
        parts = urlsplit(target)
        if parts.path != PATH:
            return 404, {"error": True, "reason": f"Not found: {parts.path}"}
        try:
            request = parse_request(parse_qs(parts.query, keep_blank_values=True))
        except RequestError as exc:
            return 400, {"error": True, "reason": str(exc)}
        self.requests += 1
        return 200, forecast(request, self.clock(), self.seed)

    def start(self) -> OpenMeteoLocal:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()


def _handler(server: OpenMeteoLocal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                status, document = server.answer(self.path)
            except Exception:  # any bug: answer 500 and keep serving, as a server does
                log.exception("open-meteo local: %s failed", self.path)
                status, document = 500, {"error": True, "reason": "internal error"}
            body = json.dumps(document, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("open-meteo local: " + format, *args)

    return Handler


def start(
    port: int = 0,
    clock: Callable[[], float] = time.time,
    seed: int = 0,
    host: str = "127.0.0.1",
) -> OpenMeteoLocal:
    """Listen on `host:port` (0: a free port) and answer on a background thread.

    clock: the site time (Unix seconds) "today" is taken from (a `backend.clock.Clock`'s
    `now_s` in the demo); seed: the weather generator's (module notes)."""
    return OpenMeteoLocal(port, clock, seed, host).start()


def serve(
    port: int,
    clock: Callable[[], float] = time.time,
    seed: int = 0,
    host: str = "127.0.0.1",
) -> None:
    """Listen on `host:port`, print the ready line, answer until interrupted."""
    server = OpenMeteoLocal(port, clock, seed, host)
    print(f"open-meteo local on {server.url}", flush=True)
    try:
        server.httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        log.info("open-meteo local: interrupted, stopping")
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ruong.openmeteo_local",
        description="Serve Open-Meteo's /v1/forecast from Ruộng's weather generator.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=0, help="the weather generator's seed")
    parser.add_argument(
        "--config", default=None, help="a ruong.toml whose [clock] gives the site time"
    )
    args = parser.parse_args(argv)
    clock = Clock.of(load_settings(args.config)) if args.config else Clock()
    serve(args.port, clock.now_s, args.seed, args.host)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
