"""Words the dashboard shows, Vietnamese first (the default) and English."""

from __future__ import annotations

LANGUAGES = ("vi", "en")
DEFAULT = "vi"

TEXT: dict[str, dict[str, str]] = {
    "title": {"vi": "Ruộng — số liệu mới nhất", "en": "Ruộng — latest readings"},
    "no_nodes": {
        "vi": "Chưa có nút cảm biến nào gửi số liệu. Hãy bật nút và chờ vài phút.",
        "en": "No sensor node has reported yet. Switch a node on and wait a few minutes.",
    },
    "field": {"vi": "Ruộng", "en": "Field"},
    "node": {"vi": "Nút", "en": "Node"},
    "updated": {"vi": "Cập nhật", "en": "Updated"},
    "ago_s": {"vi": "{n} giây trước", "en": "{n} s ago"},
    "ago_min": {"vi": "{n} phút trước", "en": "{n} min ago"},
    "ago_h": {"vi": "{n} giờ trước", "en": "{n} h ago"},
    "online": {"vi": "Đang hoạt động", "en": "Reporting"},
    "offline": {
        "vi": "Mất liên lạc: kiểm tra pin và ăng-ten của nút",
        "en": "Not reporting: check the node's battery and antenna",
    },
    "reflood": {
        "vi": "Nước đã rút {cm} cm dưới mặt ruộng: nên bơm nước vào ruộng (tưới ngập khô xen kẽ)",
        "en": "Water is {cm} cm below the soil surface: re-flood the field (safe AWD)",
    },
    "battery_low": {
        "vi": "Pin yếu ({v} V): thay hoặc sạc pin sớm",
        "en": "Battery low ({v} V): replace or charge it soon",
    },
    "sensor_faults": {
        "vi": "{n} số đo không đọc được: kiểm tra cảm biến và dây nối (ruong node check)",
        "en": "{n} readings could not be taken: check the sensors and their wiring "
        "(ruong node check)",
    },
    "dropped": {
        "vi": "Nút đã bỏ {n} lần đo vì mất sóng quá lâu, bộ nhớ đầy",
        "en": "The node dropped {n} readings: it was out of reach so long its memory filled",
    },
    "all_good": {"vi": "Không cần làm gì lúc này", "en": "Nothing to do right now"},
    "never_reported": {
        "vi": "Chưa gửi số liệu lần nào: nạp phần mềm (ruong node flash) và kiểm tra kết nối",
        "en": "Has never reported: flash it (ruong node flash) and check it reaches the gateway",
    },
    "source": {"vi": "Nguồn", "en": "Source"},
    "pests_quiet": {
        "vi": "Sâu bệnh: {n} loại đã kiểm tra, chưa có nguy cơ",
        "en": "Pests and diseases: {n} checked, no risk now",
    },
    "language": {"vi": "English", "en": "Tiếng Việt"},
}

QUANTITY_LABELS: dict[str, dict[str, str]] = {
    "soil_vwc": {"vi": "Độ ẩm đất", "en": "Soil moisture"},
    "soil_temp": {"vi": "Nhiệt độ đất", "en": "Soil temperature"},
    "air_temp": {"vi": "Nhiệt độ không khí", "en": "Air temperature"},
    "air_rh": {"vi": "Độ ẩm không khí", "en": "Air humidity"},
    "air_pressure": {"vi": "Áp suất không khí", "en": "Air pressure"},
    "rain": {"vi": "Lượng mưa", "en": "Rain"},
    "leaf_wet": {"vi": "Độ ướt lá", "en": "Leaf wetness"},
    "water_level": {"vi": "Mực nước ruộng", "en": "Field water level"},
    "battery": {"vi": "Pin", "en": "Battery"},
    "rssi": {"vi": "Sóng", "en": "Signal"},
}


def t(key: str, lang: str, **values: object) -> str:
    """The text `key` in `lang` (falling back to Vietnamese), formatted with `values`."""
    entry = TEXT[key]
    return entry.get(lang, entry[DEFAULT]).format(**values)


def ago(seconds: float, lang: str) -> str:
    """`seconds` ago as words: seconds under 90 s, minutes under 90 min, else hours."""
    if seconds < 90:
        return t("ago_s", lang, n=max(0, round(seconds)))
    if seconds < 90 * 60:
        return t("ago_min", lang, n=round(seconds / 60))
    return t("ago_h", lang, n=round(seconds / 3600))


def label(quantity: str, lang: str) -> str:
    entry = QUANTITY_LABELS.get(quantity)
    return entry.get(lang, entry[DEFAULT]) if entry else quantity
