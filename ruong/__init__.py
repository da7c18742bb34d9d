"""Ruộng's top layer: the `ruong` command line and what it runs (demo, simulation, services,
technician tools). It imports everything below it; nothing below imports it
(docs/architecture.md, "Layers")."""
