"""Settings: ruong.toml + RUONG_* overrides, validated with the bad key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.config import ConfigError, load_settings, render_toml
from tests.conftest import write_config


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.store.scheme == "sqlite"
    assert settings.coap is not None and settings.coap.port == 5683


def test_file_then_environment(tmp_path: Path) -> None:
    config = write_config(tmp_path / "ruong.toml", store_url="influxdb://u:p%40ss@db:8087/farm")
    settings = load_settings(config, env={"RUONG_MQTT_URL": "mqtt://broker"})
    assert (settings.store.host, settings.store.port, settings.store.path) == ("db", 8087, "farm")
    assert settings.store.password == "p@ss"
    assert settings.mqtt is not None and (settings.mqtt.host, settings.mqtt.port) == (
        "broker",
        1883,
    )
    assert settings.source["mqtt.url"] == "RUONG_MQTT_URL"


def test_empty_transport_switches_it_off(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path / "r.toml", mqtt_url=""), env={})
    assert settings.mqtt is None


@pytest.mark.parametrize(
    ("values", "env", "named"),
    [
        ({"store_url": "postgres://x/y"}, {}, "store.url"),
        ({"store_url": "influxdb://host:8086/"}, {}, "store.url"),
        ({}, {"RUONG_COAP_BIND": "http://0.0.0.0:5683"}, "RUONG_COAP_BIND"),
        ({"mqtt_url": "mqtt://host:notaport"}, {}, "mqtt.url"),
        ({"site_farm": "bad farm!"}, {}, "site.farm"),
        ({"store_bucket": "x"}, {}, "store.bucket"),
        ({"weather_url": "ftp://files.example/forecast"}, {}, "weather.url"),
        ({"weather_url": "api.open-meteo.com"}, {}, "weather.url"),
        ({"weather_refresh_h": 0}, {}, "weather.refresh_h"),
        ({"weather_refresh_h": "3"}, {}, "weather.refresh_h"),
        ({}, {"RUONG_WEATHER_REFRESH_H": "-1"}, "RUONG_WEATHER_REFRESH_H"),
        ({}, {"RUONG_WEATHER_TIMEOUT_S": "soon"}, "RUONG_WEATHER_TIMEOUT_S"),
        ({}, {"RUONG_WEATHER_TIMEOUT_S": "0"}, "timeout_s"),
        ({}, {"RUONG_WEATHER_URL": "https://"}, "RUONG_WEATHER_URL"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, values: dict[str, str], env: dict[str, str], named: str
) -> None:
    config = write_config(tmp_path / "ruong.toml", **values)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(config, env=env)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_render_round_trips(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path / "a.toml", site_farm="yen-khanh"), env={})
    again = tmp_path / "b.toml"
    again.write_text(render_toml(settings))
    reread = load_settings(again, env={})
    assert (reread.farm, reread.store_url, reread.coap_bind) == (
        settings.farm,
        settings.store_url,
        settings.coap_bind,
    )


def test_weather_source_defaults_to_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.weather_url == ""  # no source: the advice assumes no rain and says so
    assert (settings.weather_refresh_h, settings.weather_timeout_s) == (3.0, 10.0)
    assert settings.weather_cache_dir == "ruong-data/weather"


def test_weather_table_from_file_then_environment(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "ruong.toml",
        weather_url="https://api.open-meteo.com",
        weather_refresh_h=6,
        weather_cache_dir="/var/lib/ruong/weather",
    )
    settings = load_settings(config, env={"RUONG_WEATHER_TIMEOUT_S": "2.5"})
    assert settings.weather_url == "https://api.open-meteo.com"
    assert settings.weather_refresh_h == 6.0 and isinstance(settings.weather_refresh_h, float)
    assert settings.weather_timeout_s == 2.5
    assert settings.weather_cache_dir == "/var/lib/ruong/weather"
    assert settings.source["weather.url"] == str(config)
    assert settings.source["weather.timeout_s"] == "RUONG_WEATHER_TIMEOUT_S"
    local = load_settings(config, env={"RUONG_WEATHER_URL": "http://127.0.0.1:8765"})
    assert local.weather_url == "http://127.0.0.1:8765"


def test_weather_table_renders_and_round_trips(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "a.toml", weather_url="http://127.0.0.1:8765", weather_cache_dir="w"
    )
    settings = load_settings(config, env={"RUONG_WEATHER_REFRESH_H": "1.5"})
    text = render_toml(settings)
    assert '[weather]\nurl = "http://127.0.0.1:8765"\nrefresh_h = 1.5\n' in text
    again = tmp_path / "b.toml"
    again.write_text(text)
    reread = load_settings(again, env={})
    assert (
        reread.weather_url,
        reread.weather_refresh_h,
        reread.weather_timeout_s,
        reread.weather_cache_dir,
    ) == ("http://127.0.0.1:8765", 1.5, 10.0, "w")
    # no source renders as an empty url, which reads back as no source
    none = tmp_path / "c.toml"
    none.write_text(render_toml(load_settings(tmp_path / "b.toml", env={"RUONG_WEATHER_URL": ""})))
    assert load_settings(none, env={}).weather_url == ""
