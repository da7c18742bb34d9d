"""Pin numbers per board. GENERATED from hardware/pins/*.csv by
`python -m hardware.pinmap`: edit the CSV and regenerate, never this file
(tests/hardware checks that it is current)."""

BOARDS = {
    "esp32-c3-devkitm": {
        "soil": 0,  # ADC1_CH0
        "leaf": 1,  # ADC1_CH1
        "battery": 3,  # ADC1_CH3
        "level_trig": 18,  # GPIO18
        "level_echo": 19,  # GPIO19
        "rain": 5,  # GPIO5
        "onewire": 10,  # GPIO10
        "sda": 6,  # I2C0 SDA
        "scl": 7,  # I2C0 SCL
        "sensor_power": 2,  # GPIO2
    },
    "esp32-devkitc": {
        "soil": 34,  # ADC1_CH6
        "leaf": 39,  # ADC1_CH3
        "battery": 35,  # ADC1_CH7
        "level_trig": 25,  # GPIO25
        "level_echo": 26,  # GPIO26
        "rain": 27,  # RTC_GPIO17
        "onewire": 4,  # GPIO4
        "sda": 21,  # I2C0 SDA
        "scl": 22,  # I2C0 SCL
        "sensor_power": 23,  # GPIO23
    },
}
CHIPS = {
    "esp32-c3-devkitm": "esp32c3",
    "esp32-devkitc": "esp32",
}
DEFAULT = "esp32-devkitc"
PINS = BOARDS[DEFAULT]
CHIP = CHIPS[DEFAULT]
