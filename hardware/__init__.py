"""Ruộng hardware: the physical truth of a node, as data and the tools that read it.

- `pins/<board>.csv`: the pin map per board, the one source of truth; `pinmap` checks it
  against the chip's rules and generates `firmware/board_pins.py` from it.
- `bom_paddy.csv`, `bom_upland.csv`: bills of materials; `bom` loads and totals them.
- `power_profiles.toml`: currents, durations and sun hours; `power` turns them into a
  power budget (`python -m hardware.power`, `ruong hw power`).
- `wiring.md`, `install.md`: wiring diagram, power path, enclosure, lightning, installation.
"""
