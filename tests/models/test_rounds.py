"""Rounds: who is asked about what, the round's life, and status replies as case documents."""

import threading
from datetime import date

import pytest
from sqlmodel import select

from models.db import session_scope
from models.importer import import_path
from models.items import ItemRef
from models.queries import NotFound
from models.replies import ReplyRefused, record_reply, validate_item
from models.reporting import (
    ReplyChannel,
    ReportingRound,
    RoundEvent,
    RoundState,
    StatusReport,
)
from models.rounds import (
    RoundError,
    close_round,
    extend_round,
    get_round,
    has_replied,
    open_round,
    progress,
    reopen_round,
    scope_of,
)
from models.status import Status
from tests.conftest import BUNDLED_PLAN

AS_OF, DEADLINE = date(2020, 5, 4), date(2020, 5, 29)


@pytest.fixture
def round_id(engine) -> int:
    with session_scope() as session:
        import_path(session, str(BUNDLED_PLAN))
        return open_round(session, label="Plan 1. juni", as_of=AS_OF, deadline=DEADLINE).id


def contact_id(session, key: str) -> int:
    from models.plan import Contact

    return session.exec(select(Contact).where(Contact.key == key)).one().id


def item_token(session, rid: int, contact: str) -> str:
    return scope_of(session, rid, contact_id(session, contact))[0].item


def test_opening_asks_each_owner_about_their_open_items(round_id):
    with session_scope() as session:
        asked = {
            p.contact.name: p.expected
            for p in progress(
                session,
                session.get(
                    __import__("models.reporting", fromlist=["ReportingRound"]).ReportingRound,
                    round_id,
                ),
            )
        }
    # 15 measures + 5 assignments; measure 14 has no lead or owner: the coordinator is asked.
    assert sum(asked.values()) == 20
    assert asked["Kari Nordmann"] == 2  # the implementation plan, and measure 14 (no owner)
    assert asked["Ola Nordmann"] == 7


@pytest.mark.parametrize(
    ("label", "as_of", "deadline", "message"),
    [
        ("", AS_OF, DEADLINE, "needs a label"),
        ("X", AS_OF, date(2020, 5, 1), "before the as-of date"),
        ("Plan 1. juni", AS_OF, DEADLINE, "already has a round labelled"),
    ],
)
def test_bad_round_requests_are_refused(round_id, label, as_of, deadline, message):
    with pytest.raises(RoundError, match=message), session_scope() as session:
        open_round(session, label=label, as_of=as_of, deadline=deadline)


def test_close_reopen_extend_are_logged(round_id):
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        extend_round(session, rnd, date(2020, 6, 5), by="Kari")
        close_round(session, rnd, by="Kari")
        with pytest.raises(RoundError, match="already closed"):
            close_round(session, rnd)
        reopen_round(session, rnd, date(2020, 6, 12), by="Kari")
        assert (rnd.state, rnd.deadline) == (RoundState.OPEN, date(2020, 6, 12))
    with session_scope() as session:
        events = [
            (e.event, e.detail, e.by)
            for e in session.exec(
                select(RoundEvent).where(RoundEvent.round_id == round_id).order_by(RoundEvent.id)
            )
        ]
    assert events[1:] == [
        ("extended", "deadline 2020-05-29 -> 2020-06-05", "Kari"),
        ("closed", None, "Kari"),
        ("reopened", "deadline 2020-06-05 -> 2020-06-12", "Kari"),
    ]


def test_a_closed_round_is_not_extended_but_reopened(round_id):
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        close_round(session, rnd, by="Kari")
        with pytest.raises(RoundError, match="is closed: reopen it"):
            extend_round(session, rnd, date(2020, 7, 1), by="Kari")
        assert (rnd.state, rnd.deadline) == (RoundState.CLOSED, DEADLINE)


def test_reopening_checks_its_deadline_and_who_is_named_is_kept_plain(round_id):
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        close_round(session, rnd, by="Kari\x00 Nordmann " + "x" * 300)
        with pytest.raises(RoundError, match="before the round's as-of date"):
            reopen_round(session, rnd, date(2020, 1, 1))
        assert rnd.state == RoundState.CLOSED
        with pytest.raises(NotFound, match="another-plan"):
            get_round(session, round_id, "another-plan")
    with session_scope() as session:
        by = session.exec(select(RoundEvent.by).where(RoundEvent.event == "closed")).one()
    assert by.startswith("Kari Nordmann xxx") and len(by) == 200


def test_a_label_longer_than_its_column_is_refused_before_anything_is_written(round_id):
    with pytest.raises(RoundError, match="at most 200 characters"), session_scope() as session:
        open_round(session, label="x" * 201, as_of=AS_OF, deadline=DEADLINE)


VALID = {"status": "on_track", "progress": "40", "done": "Utredning startet"}


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ({}, {("status", "required")}),
        ({"status": "grønn"}, {("status", "status_unknown")}),
        ({**VALID, "progress": "140"}, {("progress", "progress_range")}),
        ({**VALID, "progress": "-1"}, {("progress", "progress_number")}),
        ({**VALID, "progress": "førti"}, {("progress", "progress_number")}),
        ({**VALID, "expected_completion": "2020-02-30"}, {("expected_completion", "date_format")}),
        ({**VALID, "expected_completion": "2020-01-01"}, {("expected_completion", "date_range")}),
        ({**VALID, "done": "x" * 4001}, {("done", "too_long")}),
        (
            {"status": "delayed"},
            {("expected_completion", "expected_required"), ("risk_note", "risk_required")},
        ),
        ({"status": "at_risk"}, {("risk_note", "risk_required")}),
        (
            {"status": "delayed", "expected_completion": "2020-09-30", "risk_note": "Ressurser"},
            set(),
        ),
        ({**VALID, "progress": "100 %"}, set()),
    ],
)
def test_reply_validation(round_id, raw, errors):
    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        reply, problems = validate_item("measure:1", raw, rnd)
    assert {(p.field, p.code) for p in problems} == errors
    assert (reply is None) == bool(errors)


def _reply(session, rid, contact, status=Status.ON_TRACK, **kw):
    from models.replies import ItemReply

    token = item_token(session, rid, contact)
    return record_reply(
        session,
        session.get(ReportingRound, rid),
        contact_id(session, contact),
        [ItemReply(token, status, **kw)],
        channel=ReplyChannel.WEB,
        entered_by="test",
    )


def test_history_is_append_only_and_the_latest_counts(round_id):
    from models.items import latest_reports

    with session_scope() as session:
        _reply(session, round_id, "kmd-kontakt", Status.ON_TRACK, progress=20)
        _reply(session, round_id, "kmd-kontakt", Status.AT_RISK, risk_note="Forsinket høring")
        token = item_token(session, round_id, "kmd-kontakt")
    with session_scope() as session:
        rows = session.exec(select(StatusReport).where(StatusReport.item == token)).all()
        assert [r.status for r in rows] == ["on_track", "at_risk"]
        latest = latest_reports(session, rows[0].plan_id)[ItemRef.parse(token)]
        assert latest.status == "at_risk" and latest.risk_note == "Forsinket høring"
        assert has_replied(session, round_id, contact_id(session, "kmd-kontakt"))


def test_a_person_can_only_report_on_their_own_items(round_id):
    from models.replies import ItemReply

    with session_scope() as session:
        others = item_token(session, round_id, "kmd-kontakt")
        with pytest.raises(ReplyRefused, match="not among this person's items"):
            record_reply(
                session,
                session.get(ReportingRound, round_id),
                contact_id(session, "kud-kontakt"),
                [ItemReply(others, Status.ON_TRACK)],
                channel=ReplyChannel.WEB,
            )
    with session_scope() as session:
        assert session.exec(select(StatusReport)).all() == []


def test_a_closed_round_takes_no_replies(round_id):
    with session_scope() as session:
        close_round(session, session.get(ReportingRound, round_id))
    with pytest.raises(ReplyRefused, match="closed"), session_scope() as session:
        _reply(session, round_id, "kmd-kontakt")


def test_the_same_submission_is_recorded_once(round_id):
    from models.replies import ItemReply

    with session_scope() as session:
        token = item_token(session, round_id, "kud-kontakt")
        rnd, cid = session.get(ReportingRound, round_id), contact_id(session, "kud-kontakt")
        for _ in range(2):
            record_reply(
                session,
                rnd,
                cid,
                [ItemReply(token, Status.COMPLETED)],
                channel=ReplyChannel.PREFECT_UI,
                submission="prefect-run-0",
            )
    with session_scope() as session:
        assert len(session.exec(select(StatusReport)).all()) == 1


def test_two_submissions_at_the_same_moment_are_both_kept(round_id):
    errors = []

    def submit(status):
        try:
            with session_scope() as session:
                _reply(session, round_id, "bfd-kontakt", status)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=submit, args=(s,)) for s in (Status.ON_TRACK, Status.COMPLETED) * 4
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope() as session:
        assert len(session.exec(select(StatusReport)).all()) == 8
