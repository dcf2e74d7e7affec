"""The summary's roll-up on hand-built plans with known answers."""

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from models.db import session_scope
from models.items import ItemKind
from models.plan import Assignment, Contact, Measure
from models.reporting import ReportingRound, RoundItem, RoundState, StatusReport
from models.rollup import NO_REPLY, UNKNOWN, compute_rollup
from tests.plans import import_plan_data, plan_data

PEOPLE = [
    {"key": "ola", "name": "Ola", "channels": ["ola@example.org"]},
    {"key": "bo", "name": "Bo Bufdir", "organisation": "Bufdir", "channels": ["bo@example.org"]},
]
GOALS = [{"number": 1, "title": "Mål en"}, {"number": 2, "title": "Mål to"}]
MEASURES = [
    # 1: Hdir leads, Bufdir shares -> HOD lead, BFD shared; Hdir lead, Bufdir shared
    {"number": 1, "title": "En", "goal": 1, "owner": "ola", "shared": ["Bufdir"],
     "planned_end": "2020-12-31", "priority": 2},
    # 2: Hdir leads, HOD shares -> HOD counted once (as lead)
    {"number": 2, "title": "To", "goal": 1, "owner": "ola", "shared": ["HOD"],
     "planned_end": "2020-05-01", "priority": 1},
    # 3: Bufdir leads -> BFD lead
    {"number": 3, "title": "Tre", "goal": 2, "owner": "bo", "lead": "Bufdir",
     "planned_end": "2020-05-29"},
    # 4: nobody responsible, no goal
    {"number": 4, "title": "Fire", "lead": None, "planned_end": "2021-01-01", "priority": 1},
    # 5: never reported on
    {"number": 5, "title": "Fem", "goal": 2, "owner": "ola", "planned_end": "2020-05-15"},
]  # fmt: skip
ASSIGNMENTS = [
    {"key": "opp-1", "letter": "Tillegg nr. 10", "title": "Oppdrag", "issued_by": "HOD",
     "assigned_to": "Hdir", "owner": "ola", "deadline": "2020-06-01", "priority": 1},
]  # fmt: skip


def _data() -> dict:
    data = plan_data(PEOPLE, MEASURES, ASSIGNMENTS, goals=GOALS)
    data["goals"] = data["plan"].pop("goals")
    data["organisations"] += [
        {"key": "BFD", "name": "Barne- og familiedepartementet", "kind": "ministry"},
        {"key": "Bufdir", "name": "Bufdir", "kind": "directorate", "parent": "BFD"},
    ]
    return data


def at(day: int, month: int = 5) -> datetime:
    return datetime(2020, month, day, 10, tzinfo=UTC)


@pytest.fixture
def plan(engine, tmp_path):
    """Two rounds: 1 May (closed) and 1 June; replies chosen to give known answers."""
    import_plan_data(tmp_path, _data())
    with session_scope() as s:
        m = {x.number: x for x in s.exec(select(Measure)).all()}
        a = s.exec(select(Assignment)).one()
        ola = s.exec(select(Contact).where(Contact.key == "ola")).one()
        bo = s.exec(select(Contact).where(Contact.key == "bo")).one()
        r1 = ReportingRound(
            plan_id=a.plan_id, label="Mai", as_of=date(2020, 5, 1), deadline=date(2020, 5, 8),
            state=RoundState.CLOSED, closed_at=at(9),
        )  # fmt: skip
        r2 = ReportingRound(
            plan_id=a.plan_id, label="Juni", as_of=date(2020, 6, 1), deadline=date(2020, 6, 8)
        )
        s.add_all([r1, r2])
        s.flush()
        for mid, cid in [(1, ola), (2, ola), (3, bo), (5, ola)]:
            s.add(RoundItem(round_id=r2.id, item=f"measure:{m[mid].id}", contact_id=cid.id))
        s.add(RoundItem(round_id=r2.id, item=f"assignment:{a.id}", contact_id=ola.id))

        def reply(measure=None, status="on_track", rnd=None, when=at(5), **kw):
            s.add(
                StatusReport(
                    plan_id=a.plan_id, measure_id=measure and m[measure].id,
                    assignment_id=None if measure else a.id, round_id=rnd and rnd.id,
                    contact_id=ola.id, status=status, submitted_at=when, **kw,
                )
            )  # fmt: skip

        reply(1, "on_track", r1, at(5))
        reply(2, "at_risk", r1, at(5))
        reply(3, "delayed", r1, at(5))
        reply(None, "not_started", r1, at(5))
        # June round: 1 worsens, 2 improves, 3 gets a reply with an unknown old value,
        # the assignment is not answered in June (keeps May's status, counts as missing).
        reply(1, "delayed", r2, at(3, 6), risk_note="<script>alert(1)</script>")
        reply(2, "completed", r2, at(3, 6), progress=100)
        reply(3, "paused-legacy", r2, at(4, 6))
        # A reply in a later round must not count for June.
        r3 = ReportingRound(
            plan_id=a.plan_id, label="Juli", as_of=date(2020, 7, 1), deadline=date(2020, 7, 8)
        )
        s.add(r3)
        s.flush()
        reply(1, "completed", r3, at(2, 7))
        return {"r1": r1.id, "r2": r2.id, "r3": r3.id}


def rollup_of(**kw):
    with session_scope() as s:
        return compute_rollup(s, **kw)


def by_number(r):
    return {i.item.number: i for i in r.items if i.kind == ItemKind.MEASURE}


def test_status_per_item_is_the_latest_reply_in_or_before_the_round(plan):
    r = rollup_of(round_id=plan["r2"])
    items = by_number(r)
    assert r.as_of == date(2020, 6, 1)
    assert items[1].state == "delayed" and items[1].previous_status == "on_track"
    assert items[2].state == "completed"
    assert items[3].state == UNKNOWN and items[3].status == "paused-legacy"
    assert items[4].state == NO_REPLY and items[5].state == NO_REPLY
    assignment = r.assignments[0]
    assert assignment.state == "not_started"  # May's reply still holds…
    assert assignment.missing and not assignment.replied_in_round  # …but June is unanswered
    # The earlier round sees only its own replies.
    may = by_number(rollup_of(round_id=plan["r1"]))
    assert may[1].state == "on_track" and may[2].state == "at_risk"


def test_no_reply_is_kept_apart_from_not_started(plan):
    r = rollup_of(round_id=plan["r2"])
    assert r.totals.by_state[NO_REPLY] == 2
    assert r.totals.by_state["not_started"] == 1
    assert r.totals.by_state[UNKNOWN] == 1
    assert r.totals.total == 6 == sum(r.totals.by_state.values()) == sum(r.totals.by_rag.values())


def test_worsened_and_improved_since_the_previous_round(plan):
    r = rollup_of(round_id=plan["r2"])
    assert r.previous_round.label == "Mai"
    assert [i.item.number for i in r.worsened] == [1]
    assert [i.item.number for i in r.improved] == [2]


def test_colours_and_overdue(plan):
    r = rollup_of(round_id=plan["r2"])
    items = by_number(r)
    assert items[1].rag == "red"  # delayed
    assert items[2].rag == "green" and items[2].days_late is None  # completed: never late
    # 3 is due 29 May, open (unknown status) on 1 June: 3 days late, red because overdue
    assert items[3].days_late == 3 and items[3].rag == "red"
    # 5: due 15 May (a Friday), no reply: 17 days late
    assert items[5].days_late == 17
    # The assignment is due 1 June 2020, Whit Monday: effectively 2 June, not late on 1 June
    assert r.assignments[0].effective_deadline == date(2020, 6, 2)
    assert r.assignments[0].days_late is None
    assert [i.item.number for i in r.overdue] == [5, 3]
    assert r.totals.overdue == 2


def test_lead_and_shared_counted_once_per_ministry_and_agency(plan):
    r = rollup_of(round_id=plan["r2"])
    ministries = {g.key: (g.lead, g.shared, g.counts.total) for g in r.by_ministry}
    # HOD: leads 1, 2 (through Hdir), 5 and the assignment; shares 2 itself -> once, as lead
    assert ministries["HOD"] == (4, 0, 4)
    # BFD: leads 3 (through Bufdir), shares 1 (Bufdir)
    assert ministries["BFD"] == (1, 1, 2)
    assert ministries[None] == (1, 0, 1)  # measure 4 has nobody: shown, not dropped
    agencies = {g.key: (g.lead, g.shared, g.counts.total) for g in r.by_agency}
    assert agencies == {"Hdir": (4, 0, 4), "Bufdir": (1, 1, 2)}
    assert "no_responsible" in r.notes and "unknown_status" in r.notes


def test_counts_per_goal_add_up_to_the_totals(plan):
    r = rollup_of(round_id=plan["r2"])
    goals = {g.key: g.counts.total for g in r.by_goal}
    assert goals == {"1": 2, "2": 2, None: 1, "assignments": 1}
    assert sum(goals.values()) == r.totals.total
    for state in r.totals.by_state:
        assert sum(g.counts.by_state[state] for g in r.by_goal) == r.totals.by_state[state]


def test_missing_replies_and_reply_rate(plan):
    r = rollup_of(round_id=plan["r2"])
    assert (r.asked, r.replied) == (5, 3)
    assert r.reply_rate == pytest.approx(0.6)
    assert sorted(m.item.token.split(":")[0] for m in r.missing) == ["assignment", "measure"]
    assert {m.asked for m in r.missing} == {"Ola"}


def test_priority_list_is_priority_then_deadline(plan):
    r = rollup_of(round_id=plan["r2"])
    order = [i.item.label for i in r.priority]
    # priority 1: opp-1 (2 June) before measure 4 (2021); 2 is completed; then priority 2: 1;
    # then no priority by deadline: 5 (15 May), 3 (29 May)
    assert order == ["opp-1", "4", "1", "5", "3"]


def test_as_of_date_without_a_round(plan):
    r = rollup_of(as_of=date(2020, 5, 20))
    items = by_number(r)
    assert r.round is None and r.previous_round.label == "Mai"
    assert items[1].state == "on_track" and items[2].state == "at_risk"
    assert r.asked == 6 and r.replied == 4  # every item; those with any reply by then


def test_a_round_with_no_replies_and_a_plan_with_no_measures(engine, tmp_path):
    data = plan_data([], [])
    import_plan_data(tmp_path, data)
    with session_scope() as s:
        plan_id = s.exec(select(Contact)).first().plan_id
        rnd = ReportingRound(
            plan_id=plan_id, label="Tom", as_of=date(2020, 6, 1), deadline=date(2020, 6, 8)
        )
        s.add(rnd)
        s.flush()
        rid = rnd.id
    r = rollup_of(round_id=rid)
    assert r.totals.total == 0 and r.reply_rate is None
    assert "no_measures" in r.notes and "no_scope" in r.notes
