"""Alerts that farmers, extension officers and technicians act on: never lost, never spam
(docs/architecture.md, "Alerts, dashboard pages and reports"; issue 14).

The pure core, with no I/O (no database, no sockets, no clock: time comes in as aware
datetimes), in the order an evaluation uses it:

- :mod:`backend.alerts.model`: what an alert is (rule, version, subject, fingerprint), what one
  evaluation says about it (:class:`~backend.alerts.model.Observation`), its stored state and
  the transitions it makes, and their words from the catalogue (backend/i18n.py);
- :mod:`backend.alerts.lifecycle`: the state machine pending -> firing -> resolved / expired,
  with hysteresis, a separate reminder clock, level increases and episodes;
- :mod:`backend.alerts.inhibit`: a node not reporting mutes the alerts of its fields' readings,
  a gateway whose store is down mutes the node-offline storm behind it; one evaluation round
  of many alerts with inhibition applied;
- :mod:`backend.alerts.routing`: who receives a transition (owner, commune officers,
  technicians), on which channels, when (quiet hours), folded into a digest past the daily
  budget, escalated when a level-3 alert goes unacknowledged, each delivery with a
  deterministic idempotency key for the outbox.

The rules that make observations, the durable outbox, the channels and the `ruong alerts`
command are built on this core elsewhere; they persist what these functions return.
"""
