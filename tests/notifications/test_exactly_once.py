"""Exactly once across crashes and concurrent runs, with the plain functions a run is made of.

A "killed" run is a real process killed with SIGKILL at the point named, not a simulation."""

import os
import subprocess
import sys
import threading
import time
from datetime import date

import pytest
from sqlmodel import select

from models.db import session_scope
from models.messages import Delivery, DeliveryState, Reminder
from models.settings import get_settings
from notifications import dispatch
from notifications.delivery import deliver
from notifications.outbox import read_outbox
from tests.conftest import REPO
from tests.plans import import_plan_data, plan_data

AS_OF = date(2020, 5, 25)
PEOPLE = [
    {"key": f"p{i}", "name": f"Person {i}", "channels": [f"p{i}@example.org"]} for i in range(5)
]
MEASURES = [
    {"number": n, "title": f"Tiltak {n}", "owner": f"p{n % 5}", "planned_end": "2020-06-01"}
    for n in range(1, 21)
]


@pytest.fixture
def plan(settings_env, tmp_path):
    import_plan_data(tmp_path, plan_data(PEOPLE, MEASURES))
    return settings_env


def run_once() -> None:
    dispatch.queue_reminders(AS_OF)
    deliver(dispatch.pending_deliveries(), get_settings(), sleep=lambda s: None)


def outbox_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in read_outbox(get_settings().outbox_dir):
        counts[message.to] = counts.get(message.to, 0) + 1
    return counts


EVERYONE_ONCE = {f"p{i}@example.org": 1 for i in range(5)}


def killed_run(stop_after: str) -> int:
    """Run part of a reminder run in another process and SIGKILL it at ``stop_after``."""
    code = f"""
import os, signal
from datetime import date
from models.settings import get_settings
from models.db import session_scope
from models.reminders import lease
from models.types import utcnow
from notifications import dispatch
dispatch.queue_reminders(date({AS_OF.year}, {AS_OF.month}, {AS_OF.day}))
if "{stop_after}" == "lease":
    first = dispatch.pending_deliveries()[0]
    with session_scope() as session:
        lease(session, [first], utcnow(), get_settings().delivery_lease_seconds)
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode


def test_a_run_killed_between_claiming_and_sending_loses_nothing(plan):
    assert killed_run("claim") == -9
    with session_scope() as session:
        assert len(session.exec(select(Reminder)).all()) == 20
        states = {d.state for d in session.exec(select(Delivery)).all()}
    assert states == {DeliveryState.PENDING}
    assert outbox_counts() == {}

    run_once()  # the next run: claims nothing new, sends what was queued
    assert outbox_counts() == EVERYONE_ONCE
    run_once()
    assert outbox_counts() == EVERYONE_ONCE


def test_a_run_killed_while_holding_a_delivery_is_taken_over_after_its_lease(plan, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_DELIVERY_LEASE_SECONDS", "1")
    get_settings.cache_clear()
    assert killed_run("lease") == -9
    pending = dispatch.pending_deliveries()
    assert len(pending) == 4  # the leased one waits for its lease to run out

    deadline = time.monotonic() + 15
    while len(dispatch.pending_deliveries()) < 5:
        assert time.monotonic() < deadline, "the lease never ran out"
        time.sleep(0.1)
    run_once()
    assert outbox_counts() == EVERYONE_ONCE


def test_concurrent_runs_send_each_reminder_once(plan):
    errors = []

    def worker():
        try:
            run_once()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert outbox_counts() == EVERYONE_ONCE
    with session_scope() as session:
        assert len(session.exec(select(Reminder)).all()) == 20


def test_outbox_mode_sends_everything_to_the_outbox(plan, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_DELIVERY", "outbox")
    monkeypatch.setenv("FOLLOWUP_MAIL_URL", "mailto://127.0.0.1:1?from=x@example.org")
    get_settings.cache_clear()
    run_once()
    assert outbox_counts() == EVERYONE_ONCE
    message = read_outbox(get_settings().outbox_dir)[0]
    assert message.subject.startswith("Påminnelse: 4 frister")
    assert "<html" in message.html and "Tiltak" in message.text


def test_a_claim_belongs_to_the_plan_and_person_of_its_digest(plan):
    """One foreign key holds a claim's plan and recipient to its digest's: a claim filed
    under someone else is refused whole, and removing a person removes their digests
    with the claims they carried."""
    from sqlalchemy import delete, func, insert
    from sqlalchemy.exc import IntegrityError

    from models.messages import Digest
    from models.plan import Contact

    run_once()
    with session_scope() as session:
        claim = session.exec(select(Reminder).order_by(Reminder.id)).first()
        someone_else = session.exec(
            select(Contact.id).where(Contact.id != claim.contact_id).order_by(Contact.id)
        ).first()
        before = session.exec(select(func.count()).select_from(Reminder)).one()
    with pytest.raises(IntegrityError), session_scope() as session:
        session.execute(
            insert(Reminder).values(
                plan_id=claim.plan_id,
                item=claim.item,
                stage=claim.stage,
                contact_id=someone_else,
                role=claim.role,
                due_on=claim.due_on,
                as_of=claim.as_of,
                digest_id=claim.digest_id,
            )
        )
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(Reminder)).one() == before
        carried = session.exec(
            select(func.count()).where(Reminder.contact_id == claim.contact_id)
        ).one()
        session.execute(delete(Contact).where(Contact.id == claim.contact_id))
    with session_scope() as session:
        assert carried > 0
        assert session.exec(select(func.count()).select_from(Reminder)).one() == before - carried
        assert (
            session.exec(select(func.count()).where(Digest.contact_id == claim.contact_id)).one()
            == 0
        )


def test_a_digest_that_fails_to_render_midway_leaves_nothing_claimed(plan, monkeypatch):
    """Claims are stored while the digests are rendered: a rendering error halfway through
    the run's people undoes the whole transaction (no claim, digest or delivery kept), and
    the next run claims and sends every reminder."""
    from sqlalchemy import func

    from models.messages import Digest
    from notifications import reminder_digest

    real = reminder_digest.render_reminder_digest
    rendered: list[int] = []

    def fails_on_the_third(ctx, contact, *args, **kwargs):
        rendered.append(contact.id)
        if len(rendered) == 3:
            raise RuntimeError("template broke")
        return real(ctx, contact, *args, **kwargs)

    monkeypatch.setattr(reminder_digest, "render_reminder_digest", fails_on_the_third)
    with pytest.raises(RuntimeError, match="template broke"):
        dispatch.queue_reminders(AS_OF)
    with session_scope() as session:
        for table in (Reminder, Digest, Delivery):
            assert session.exec(select(func.count()).select_from(table)).one() == 0
    monkeypatch.setattr(reminder_digest, "render_reminder_digest", real)
    run_once()
    assert outbox_counts() == EVERYONE_ONCE


def test_a_failure_with_a_long_reason_is_recorded_cut_to_fit(settings_env, tmp_path):
    """A channel error longer than the column (a secret store's whole traceback, say) is
    recorded, cut to fit, and the others are still sent: not a crash that leaves every
    delivery of the batch 'sending' until its lease runs out."""
    people = [*PEOPLE[:2], {"key": "s", "name": "Secret", "channels": ["secret:teams-kari"]}]
    measures = [{**m, "owner": ["p0", "p1", "s"][m["number"] % 3]} for m in MEASURES]
    import_plan_data(tmp_path, plan_data(people, measures))

    def broken_store(name: str) -> str:
        raise RuntimeError(f"{name}: " + "the store said no. " * 300)

    dispatch.queue_reminders(AS_OF)
    outcomes = deliver(
        dispatch.pending_deliveries(), get_settings(), load_secret=broken_store, sleep=lambda s: 0
    )
    assert sorted(o.state for o in outcomes) == ["failed", "sent", "sent"]
    assert outbox_counts() == {"p0@example.org": 1, "p1@example.org": 1}
    with session_scope() as session:
        failed = session.exec(select(Delivery).where(Delivery.channel == "secret:teams-kari")).one()
    assert failed.state == DeliveryState.FAILED and failed.attempts == 1
    assert failed.last_error.startswith("secret:teams-kari: cannot load the secret")
    assert len(failed.last_error) == 2000
