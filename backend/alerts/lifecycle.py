"""The lifecycle of one alert: pending -> firing -> resolved, or expired when it can no longer
be acted on, one evaluation at a time (Prometheus's pending period and keep-firing period,
Alertmanager's separate repeat clock; issue 14, "Identity and lifecycle").

    step(state, observation, now, policy) -> (new state, transitions)

- **Hysteresis.** An alert fires after `fire_after` consecutive active evaluations spanning at
  least `pending_s`; any inactive one before that drops it (nothing was sent). It resolves
  after `resolve_after` consecutive inactive evaluations spanning at least `keep_firing_s`;
  an active one in between restarts that count. A flapping condition therefore gives one
  firing and one resolved, or none, never one pair per flap.
- **Reminders** (`repeat`) only on their own clock: `remind_every_s` after the last message
  of the episode, per level; never per evaluation, never after an acknowledgement.
- **Levels.** A rise above the highest level sent in the episode, confirmed like a firing, is
  a `level_up` (sent); a fall is kept silently, so a level hovering between 2 and 3 gives one
  `level_up`, not one per rise.
- **Expiry.** Past `expires_at` a pending alert is dropped and a firing one `expired` (one
  transition, no "resolved" message); a condition that holds again with a new deadline is a
  new episode.
- **Episodes.** A resolved or expired alert that becomes active again starts a new episode
  with a new id (`model.episode_id`).
- `observation=None`: no verdict this evaluation (the rule had no data, or inhibition muted
  the alert): the state holds, nothing is counted or sent; only the expiry applies.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from backend.alerts.model import (
    LEVELS,
    AlertState,
    Observation,
    Transition,
    TransitionKind,
    episode_id,
    require_aware,
    wording,
)

HOUR_S = 3600.0


@dataclass(frozen=True)
class Policy:
    """How many evaluations, and how long, make an alert fire, resolve and remind.

    Defaults suit nodes that report every 15 minutes and rules evaluated every 60 s, so about
    fifteen evaluations see the same reading: it is the periods, not the counts, that make a
    second reading confirm the first.
    """

    # two evaluations in a row at least, so a single evaluation never fires an alert, even
    # under a policy with no pending period
    fire_after: int = 2
    # 20 min: one 15-minute reading interval plus slack for a late uplink, so a second reading,
    # not the same one seen again, has to confirm the condition (one bad reading never alerts)
    pending_s: float = 1200.0
    # likewise two in a row, so one evaluation that misses the condition never resolves it
    resolve_after: int = 2
    # 30 min, longer than the pending period: a value hovering at its threshold must stay
    # clear for two more readings before anyone is told "over"; resolving quickly and firing
    # again is exactly the spam this module exists to prevent
    keep_firing_s: float = 1800.0
    # reminder period per level 1, 2, 3 (s; None: never). Level 3 (act now) every 4 h: at most
    # three or four reminders in a working day; level 2 once a day, like the daily advice;
    # level 1 is information, said once
    remind_every_s: tuple[float | None, float | None, float | None] = (
        None,
        24 * HOUR_S,
        4 * HOUR_S,
    )

    def __post_init__(self) -> None:
        if self.fire_after < 1 or self.resolve_after < 1:
            raise ValueError("fire_after and resolve_after count evaluations: at least 1")
        if self.pending_s < 0 or self.keep_firing_s < 0:
            raise ValueError("pending_s and keep_firing_s are durations: not negative")
        if len(self.remind_every_s) != len(LEVELS):
            raise ValueError(f"remind_every_s has one period per level {LEVELS}")
        if any(p is not None and p <= 0 for p in self.remind_every_s):
            raise ValueError("a reminder period is positive (None: no reminders)")

    def remind_after(self, level: int) -> float | None:
        """Seconds between reminders at `level`; None: no reminders."""
        return self.remind_every_s[level - 1]


DEFAULT_POLICY = Policy()


def step(
    state: AlertState | None,
    observation: Observation | None,
    now: datetime,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[AlertState | None, list[Transition]]:
    """The state after one evaluation at `now` (aware) and the transitions it made.

    state: the alert's state before (None: not active, never kept).
    observation: this evaluation's verdict for the same alert, or None (no verdict).
    Returns None as the state when there is nothing to keep (an inactive alert that never
    fired); a resolved or expired state is kept, so its episode is not reused.
    """
    require_aware(now, "now")
    if (
        state is not None
        and observation is not None
        and observation.alert.fingerprint != state.fingerprint
    ):
        raise ValueError(
            f"observation of {observation.alert.source} on {observation.alert.subject.ref}"
            f" given to the state of {state.alert.source} on {state.alert.subject.ref}"
        )
    if state is None or state.status in ("resolved", "expired"):
        return _start(state, observation, now, policy)
    active = observation is not None and observation.active
    expires = observation.expires_at if observation is not None and active else state.expires_at
    if expires is not None and now >= expires:
        return _expire(state, now)
    if observation is None:
        return state, []
    if state.status == "pending":
        if not observation.active:
            return None, []  # never confirmed, never sent: nothing to keep
        return _confirm(_seen(state, observation), now, policy)
    return _firing(state, observation, now, policy)


def acknowledge(state: AlertState, at: datetime) -> AlertState:
    """`state` acknowledged at `at`: its reminders stop and its escalation chain ends (a level
    increase afterwards asks again). Only a firing alert takes an acknowledgement; the first
    one counts."""
    require_aware(at, "at")
    if state.status != "firing" or state.acked_at is not None:
        return state
    return replace(state, acked_at=at)


def _start(
    previous: AlertState | None, observation: Observation | None, now: datetime, policy: Policy
) -> tuple[AlertState | None, list[Transition]]:
    if observation is None or not observation.active or observation.message is None:
        return previous, []
    if observation.expires_at is not None and now >= observation.expires_at:
        return previous, []  # already past acting on: the same deadline does not start again
    state = AlertState(
        alert=observation.alert,
        status="pending",
        level=observation.level,
        message=observation.message,
        expires_at=observation.expires_at,
        episode=episode_id(observation.alert.fingerprint, now),
        started_at=now,
        active_streak=1,
    )
    return _confirm(state, now, policy)


def _seen(state: AlertState, observation: Observation) -> AlertState:
    """`state` with an active observation's level, words, deadline and version counted in."""
    return replace(
        state,
        alert=observation.alert,
        level=observation.level,
        # Observation refuses an active one without words; the fallback only narrows the type
        message=observation.message if observation.message is not None else state.message,
        expires_at=observation.expires_at,
        active_streak=state.active_streak + 1,
        inactive_streak=0,
        inactive_since=None,
    )


def _held(streak: int, since: datetime, now: datetime, count: int, period_s: float) -> bool:
    """`count` evaluations in a row at least, spanning `period_s` at least."""
    return streak >= count and (now - since).total_seconds() >= period_s


def _transition(state: AlertState, kind: TransitionKind, now: datetime, level: int) -> Transition:
    return Transition(
        alert=state.alert,
        episode=state.episode,
        seq=state.seq + 1,
        kind=kind,
        at=now,
        level=level,
        message=wording(kind, state.alert, state.message, state.expires_at, level),
        instruction=state.message,
    )


def _confirm(
    state: AlertState, now: datetime, policy: Policy
) -> tuple[AlertState, list[Transition]]:
    """A pending alert fires once its condition held long enough."""
    if not _held(state.active_streak, state.started_at, now, policy.fire_after, policy.pending_s):
        return state, []
    fired = _transition(state, "firing", now, state.level)
    state = replace(
        state,
        status="firing",
        seq=fired.seq,
        fired_at=now,
        peak_level=state.level,
        peak_at=now,
        last_sent_at=now,
    )
    return state, [fired]


def _firing(
    state: AlertState, observation: Observation, now: datetime, policy: Policy
) -> tuple[AlertState, list[Transition]]:
    if not observation.active:
        streak = state.inactive_streak + 1
        since = state.inactive_since or now
        state = replace(
            state,
            active_streak=0,
            inactive_streak=streak,
            inactive_since=since,
            rising_streak=0,
            rising_since=None,
        )
        if not _held(streak, since, now, policy.resolve_after, policy.keep_firing_s):
            return state, []
        resolved = _transition(state, "resolved", now, state.peak_level)
        return replace(state, status="resolved", seq=resolved.seq, ended_at=now), [resolved]

    state = _seen(state, observation)
    if state.level > state.peak_level:
        rising_since = state.rising_since or now
        state = replace(state, rising_streak=state.rising_streak + 1, rising_since=rising_since)
        if _held(state.rising_streak, rising_since, now, policy.fire_after, policy.pending_s):
            raised = _transition(state, "level_up", now, state.level)
            state = replace(
                state,
                seq=raised.seq,
                peak_level=state.level,
                peak_at=now,
                last_sent_at=now,
                rising_streak=0,
                rising_since=None,
                acked_at=None,  # the acknowledgement was for a lower level
            )
            return state, [raised]
        return state, []
    state = replace(state, rising_streak=0, rising_since=None)

    every = policy.remind_after(state.level)
    last = state.last_sent_at or state.fired_at or now
    if every is None or state.acked_at is not None or (now - last).total_seconds() < every:
        return state, []
    reminder = _transition(state, "repeat", now, state.level)
    return replace(state, seq=reminder.seq, last_sent_at=now), [reminder]


def _expire(state: AlertState, now: datetime) -> tuple[AlertState | None, list[Transition]]:
    """Past its deadline: a pending alert is forgotten (nobody was told), a firing one ends
    with one `expired` transition, for the inbox and the record; routing sends no words."""
    if state.status == "pending":
        return None, []
    expired = _transition(state, "expired", now, state.peak_level)
    return replace(state, status="expired", seq=expired.seq, ended_at=now), [expired]
