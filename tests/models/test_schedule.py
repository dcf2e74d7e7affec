"""The reminder policy over real 2020 dates."""

from datetime import date, timedelta

import pytest

from models.policy import ReminderPolicy
from models.schedule import current_stage, policy_for, stages

DEFAULT = ReminderPolicy()


def sent_on(deadline: date, policy: ReminderPolicy = DEFAULT, count: int = 6) -> dict[str, date]:
    out = {}
    for stage, _ in zip(stages(deadline, policy), range(count), strict=False):
        out[stage.name] = stage.send_on
    return out


def days_sending(deadline: date, start: date, end: date, policy=DEFAULT) -> dict[date, str]:
    """Simulate a run every day: on which days a new stage becomes current, and which."""
    seen, out, day = None, {}, start
    while day <= end:
        stage = current_stage(deadline, policy, day)
        if stage and stage.name != seen:
            out[day] = stage.name
            seen = stage.name
        day += timedelta(days=1)
    return out


def test_defaults_need_no_configuration():
    assert DEFAULT.before_days == [28, 7, 1]
    assert DEFAULT.on_due and DEFAULT.overdue_every_days == 7 and DEFAULT.escalate


def test_deadline_on_whit_monday_2020():
    # 1 June 2020 is Whit Monday; 31 May Whit Sunday; 29 May the Friday before.
    assert sent_on(date(2020, 6, 1)) == {
        "T-28": date(2020, 5, 4),
        "T-7": date(2020, 5, 25),
        "T-1": date(2020, 5, 29),  # 31 May (Sunday) moves back to Friday
        "due": date(2020, 5, 29),  # 1 June (Whit Monday) moves back to Friday
        "overdue-1": date(2020, 6, 8),
        "overdue-2": date(2020, 6, 15),
    }
    # T-1 and due fall on the same Friday: one reminder, the later stage, not two.
    assert days_sending(date(2020, 6, 1), date(2020, 5, 1), date(2020, 6, 16)) == {
        date(2020, 5, 4): "T-28",
        date(2020, 5, 25): "T-7",
        date(2020, 5, 29): "due",
        date(2020, 6, 8): "overdue-1",
        date(2020, 6, 15): "overdue-2",
    }


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2020, 5, 28), "T-7"),
        (date(2020, 5, 29), "due"),
        (date(2020, 5, 30), "due"),
        (date(2020, 6, 1), "due"),
        (date(2020, 6, 2), "due"),
    ],
)
def test_28_may_to_2_june(as_of, expected):
    assert current_stage(date(2020, 6, 1), DEFAULT, as_of).name == expected


def test_easter_2020_moves_reminders_before_the_holidays():
    # Deadline Tuesday 14 April 2020: T-1 is Easter Monday, sent Wednesday 8 April.
    assert sent_on(date(2020, 4, 14))["T-1"] == date(2020, 4, 8)
    # Deadline on Good Friday (10 April): T-1 Maundy Thursday and due Good Friday both
    # move back to Wednesday 8 April; overdue-1 (17 April) is a Friday.
    sends = sent_on(date(2020, 4, 10))
    assert sends["T-1"] == sends["due"] == date(2020, 4, 8)
    assert sends["overdue-1"] == date(2020, 4, 17)


def test_overdue_reminder_on_a_holiday_moves_forward_not_back():
    # Deadline Thursday 2 April 2020 + 7 = Maundy Thursday 9 April: sent Tuesday 14 April,
    # never before the person is actually a week late.
    assert sent_on(date(2020, 4, 2))["overdue-1"] == date(2020, 4, 14)


def test_17_may_2020_on_a_sunday():
    # Deadline Sunday 17 May 2020: the due reminder goes out Friday 15 May.
    sends = sent_on(date(2020, 5, 17))
    assert sends["due"] == date(2020, 5, 15)
    assert sends["T-1"] == date(2020, 5, 15)
    assert sends["T-7"] == date(2020, 5, 8)


def test_deadline_on_31_december():
    sends = sent_on(date(2020, 12, 31))
    assert sends["T-7"] == date(2020, 12, 24)  # Christmas Eve is a working day
    assert sends["due"] == date(2020, 12, 31)
    assert sends["overdue-1"] == date(2021, 1, 7)


def test_overdue_cadence_and_catch_up():
    deadline = date(2020, 3, 2)  # a Monday
    assert current_stage(deadline, DEFAULT, date(2020, 3, 8)).name == "due"
    assert current_stage(deadline, DEFAULT, date(2020, 3, 9)).name == "overdue-1"
    assert current_stage(deadline, DEFAULT, date(2020, 3, 16)).name == "overdue-2"
    # Years later the stage is found directly, still the latest one due.
    assert current_stage(deadline, DEFAULT, date(2024, 3, 4)).name == "overdue-209"


def test_nothing_before_the_first_stage():
    assert current_stage(date(2020, 6, 1), DEFAULT, date(2020, 5, 3)) is None


def test_item_policy_overrides_plan_policy():
    item = {"before_days": [14, 3]}
    plan = {"before_days": [30], "overdue_every_days": 1}
    policy = policy_for(item, plan)
    assert policy.before_days == [14, 3]
    assert policy.overdue_every_days == 1  # what the item leaves out comes from the plan
    assert policy_for(None, plan).before_days == [30]
    assert policy_for(None, None) == DEFAULT


def test_bad_policy_is_refused():
    with pytest.raises(ValueError, match="between 1 and 366"):
        ReminderPolicy(before_days=[0])
    with pytest.raises(ValueError):
        ReminderPolicy(overdue_every_days=0)
