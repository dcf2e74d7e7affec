"""When reminders are due: the stages of a deadline under a reminder policy.

Stages before a deadline (T-28, T-7, T-1) and on it (due) that fall on a day off are sent
on the previous working day; overdue stages (every N days after) on the next working day,
so that nobody is told they are late before they are. On any day, the stage to send is
the latest one whose send day has come: a missed run catches up, and an earlier stage
that was overtaken is not sent as well."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from models.calendar import working_day_on_or_after, working_day_on_or_before
from models.policy import ReminderPolicy


@dataclass(frozen=True)
class Stage:
    name: str
    due_on: date  # the stage's own date
    send_on: date  # the working day it is sent on
    overdue: bool
    order: int  # later stages have higher order


def policy_for(*layers: dict | None) -> ReminderPolicy:
    """The policy for an item: its own settings over the plan's over the defaults
    (layers are given most specific first; each holds only what it sets)."""
    merged: dict = {}
    for layer in reversed(layers):
        merged.update(layer or {})
    return ReminderPolicy.model_validate(merged)


def stages(deadline: date, policy: ReminderPolicy) -> Iterator[Stage]:
    """Every stage of a deadline in order; overdue stages go on for ever."""
    yield from _before_and_on(deadline, policy)
    n = 1
    while True:
        yield _overdue(deadline, policy, n)
        n += 1


def current_stage(deadline: date, policy: ReminderPolicy, as_of: date) -> Stage | None:
    """The latest stage whose send day is on or before ``as_of``, or None before the first."""
    n = (as_of - deadline).days // policy.overdue_every_days
    while n >= 1:  # moving to a working day can push the latest nominal stage past as_of
        stage = _overdue(deadline, policy, n)
        if stage.send_on <= as_of:
            return stage
        n -= 1
    current = None
    for stage in _before_and_on(deadline, policy):
        if stage.send_on <= as_of:
            current = stage
    return current


def _before_and_on(deadline: date, policy: ReminderPolicy) -> list[Stage]:
    out = [
        Stage(f"T-{days}", nominal, working_day_on_or_before(nominal), False, order)
        for order, (days, nominal) in enumerate(
            (d, deadline - timedelta(days=d))
            for d in policy.before_days  # largest first
        )
    ]
    if policy.on_due:
        out.append(Stage("due", deadline, working_day_on_or_before(deadline), False, len(out)))
    return out


def _overdue(deadline: date, policy: ReminderPolicy, n: int) -> Stage:
    nominal = deadline + timedelta(days=policy.overdue_every_days * n)
    # Orders leave room for the stages before the deadline (at most 366 + 1 of them).
    return Stage(f"overdue-{n}", nominal, working_day_on_or_after(nominal), True, 1000 + n)
