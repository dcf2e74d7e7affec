"""send-reminders on a real Prefect server, delivering through a real SMTP server."""

import asyncio
import threading
from datetime import date

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from sqlmodel import select

from flows.send_reminders import send_reminders
from models.db import session_scope
from models.messages import Delivery, DeliveryState, Reminder
from models.settings import get_settings
from tests.plans import import_plan_data, plan_data
from tests.servers import WebhookServer, free_port, start_smtp

pytestmark = pytest.mark.usefixtures("prefect_server")

PEOPLE = [
    {"key": "ola", "name": "Ola Bokmål", "language": "nb", "channels": ["ola@example.org"]},
    {"key": "siri", "name": "Siri Nynorsk", "language": "nn", "channels": ["siri@example.org"]},
    {"key": "amy", "name": "Amy English", "language": "en", "channels": ["amy@example.org"]},
]
# On 25 May 2020: measure 1 is at T-7 (due 1 June, Whit Monday); 2 and 3 at T-7 too.
MEASURES = [
    {"number": 1, "title": "Første tiltak", "owner": "ola", "planned_end": "2020-06-01"},
    {"number": 2, "title": "Andre tiltak", "owner": "ola", "planned_end": "2020-06-01"},
    {"number": 3, "title": "Tredje tiltak", "owner": "siri", "planned_end": "2020-06-01"},
    {"number": 4, "title": "Fjerde tiltak", "owner": "amy", "planned_end": "2020-06-01"},
    {"number": 5, "title": "Langt fram", "owner": "amy", "planned_end": "2021-06-01"},
]


@pytest.fixture
def smtp(monkeypatch, settings_env):
    server, controller = start_smtp()
    monkeypatch.setenv("FOLLOWUP_MAIL_URL", server.url())
    monkeypatch.setenv("FOLLOWUP_DELIVERY_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("FOLLOWUP_DELIVERY_RETRY_AFTER_SECONDS", "0")
    get_settings.cache_clear()
    yield server
    controller.stop()


def delivered_to(smtp) -> dict[str, int]:
    counts: dict[str, int] = {}
    for recipients in smtp.recipients:
        for r in recipients:
            counts[r] = counts.get(r, 0) + 1
    return counts


def test_digest_arrives_by_smtp_in_each_language_exactly_once(smtp, tmp_path):
    import_plan_data(tmp_path, plan_data(PEOPLE, MEASURES))

    state = send_reminders(as_of=date(2020, 5, 25), return_state=True)
    report = state.result()

    assert report.claimed == 4 and report.digests == 3
    assert delivered_to(smtp) == {"ola@example.org": 1, "siri@example.org": 1, "amy@example.org": 1}
    ola = smtp.to("ola@example.org")[0]
    assert ola.get_content_type() == "multipart/alternative"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in ola.walk()
        if not p.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "Første tiltak" in parts["text/plain"] and "Andre tiltak" in parts["text/plain"]
    assert "2. pinsedag" in parts["text/html"]
    assert ola["To"] == "ola@example.org"
    from email.header import decode_header, make_header

    subjects = {
        r: str(make_header(decode_header(smtp.to(r)[0]["Subject"])))
        for r in ("ola@example.org", "siri@example.org", "amy@example.org")
    }
    assert subjects == {
        "ola@example.org": "Påminnelse: 2 frister, den første mandag 1. juni 2020",
        "siri@example.org": "Påminning: Tiltak 3 har frist måndag 1. juni 2020",
        "amy@example.org": "Reminder: Measure 4 is due Monday, 1 June 2020",
    }

    # The same day again, and a retry of the whole run: nothing new is sent.
    assert send_reminders(as_of=date(2020, 5, 25)).claimed == 0
    assert len(smtp.messages) == 3

    # Batched: the task runs do not grow with the items.
    async def task_run_names():
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
                )
            )
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["reminder-log"]))
            )
            return sorted(r.name.rsplit("-", 1)[0] for r in runs), artifacts

    names, artifacts = asyncio.run(task_run_names())
    assert names == ["deliver-messages", "queue-reminders", "tell-coordinators"]
    assert any("3 delivered" in (a.description or "") for a in artifacts)


def test_dry_run_sends_and_records_nothing(smtp, tmp_path):
    import_plan_data(tmp_path, plan_data(PEOPLE, MEASURES))
    report = send_reminders(as_of=date(2020, 5, 25), dry_run=True)
    assert sorted(p["recipient"] for p in report.previews) == [
        "Amy English",
        "Ola Bokmål",
        "Siri Nynorsk",
    ]
    assert smtp.messages == []
    with session_scope() as session:
        assert session.exec(select(Reminder)).all() == []


def test_no_reminders_on_a_public_holiday(smtp, tmp_path):
    import_plan_data(tmp_path, plan_data(PEOPLE, MEASURES))
    report = send_reminders(as_of=date(2020, 6, 1))
    assert report.day_off == "2. pinsedag" and report.claimed == 0
    assert smtp.messages == []


def test_failing_channel_then_recovers_and_others_are_not_held_up(smtp, tmp_path):
    port = free_port()
    people = [
        *PEOPLE[:1],
        {
            "key": "hook",
            "name": "Webhook Person",
            "language": "nb",
            "channels": [f"json://127.0.0.1:{port}/?cto=2&rto=2"],
        },
    ]
    measures = [
        MEASURES[0],
        {"number": 9, "title": "Via webhook", "owner": "hook", "planned_end": "2020-06-01"},
    ]
    import_plan_data(tmp_path, plan_data(people, measures))

    first = send_reminders(as_of=date(2020, 5, 25))
    assert delivered_to(smtp) == {"ola@example.org": 1}
    failed = [o for o in first.outcomes if o.state == DeliveryState.FAILED]
    assert [(o.recipient, o.channel) for o in failed] == [
        ("Webhook Person", f"json://127.0.0.1:{port}/?cto=2&rto=2")
    ]
    assert failed[0].error == (
        "json://127.0.0.1/…: A Connection error occurred sending JSON notification to 127.0.0.1."
    )

    hook = WebhookServer(port)  # the service comes back
    try:
        second = send_reminders(as_of=date(2020, 5, 26))
    finally:
        hook.stop()
    assert [o.state for o in second.outcomes] == [DeliveryState.SENT]
    assert len(hook.bodies) == 1 and "Via webhook" in hook.bodies[0]
    assert delivered_to(smtp) == {"ola@example.org": 1}  # nobody got a second copy


def test_bad_addresses_fail_alone_and_the_coordinator_is_told(smtp, tmp_path, monkeypatch):
    monkeypatch.delenv("MISSING_HOOK", raising=False)
    people = [
        PEOPLE[0],
        {"key": "noaddr", "name": "Uten Adresse", "channels": []},
        {"key": "badurl", "name": "Feil Adresse", "channels": ["nosuchservice://x/y"]},
        {"key": "envref", "name": "Mangler Hemmelighet", "channels": ["env:MISSING_HOOK"]},
    ]
    measures = [MEASURES[0]] + [
        {"number": n, "title": f"Tiltak for {key}", "owner": key, "planned_end": "2020-06-01"}
        for n, key in ((11, "noaddr"), (12, "badurl"), (13, "envref"))
    ]
    import_plan_data(tmp_path, plan_data(people, measures))

    report = send_reminders(as_of=date(2020, 5, 25))

    assert delivered_to(smtp) == {"ola@example.org": 1, "koord@example.org": 1}
    notice = smtp.to("koord@example.org")[0]
    body = next(p for p in notice.walk() if p.get_content_type() == "text/plain")
    text = body.get_payload(decode=True).decode()
    for name in ("Uten Adresse", "Feil Adresse", "Mangler Hemmelighet"):
        assert name in text
    assert "environment variable MISSING_HOOK is not set" in text
    given_up = {o.recipient for o in report.outcomes if o.state == DeliveryState.GIVEN_UP}
    assert given_up == {"Feil Adresse", "Mangler Hemmelighet"}
    with session_scope() as session:
        states = {d.channel: d.state for d in session.exec(select(Delivery)).all()}
    assert states["(none)"] == DeliveryState.GIVEN_UP
    # The next run tells the coordinator nothing twice.
    send_reminders(as_of=date(2020, 5, 26))
    assert delivered_to(smtp)["koord@example.org"] == 1


def test_a_failing_delivery_is_tried_once_per_run_also_when_the_coordinator_is_told(smtp, tmp_path):
    """The coordinator's notice is sent after the reminders; the reminders that failed
    are not tried a second time then, even with no wait set before a retry."""
    hook = f"json://127.0.0.1:{free_port()}/?cto=2&rto=2"  # nothing listens there
    people = [
        PEOPLE[0],
        {"key": "hook", "name": "Webhook Person", "channels": [hook]},
        {"key": "badurl", "name": "Feil Adresse", "channels": ["nosuchservice://x/y"]},
    ]
    measures = [MEASURES[0]] + [
        {"number": n, "title": f"Tiltak for {key}", "owner": key, "planned_end": "2020-06-01"}
        for n, key in ((11, "hook"), (12, "badurl"))
    ]
    import_plan_data(tmp_path, plan_data(people, measures))

    report = send_reminders(as_of=date(2020, 5, 25))

    assert delivered_to(smtp) == {"ola@example.org": 1, "koord@example.org": 1}
    assert [(o.recipient, o.state) for o in report.outcomes if o.channel == hook] == [
        ("Webhook Person", DeliveryState.FAILED)
    ]
    with session_scope() as session:
        attempts = {d.channel: d.attempts for d in session.exec(select(Delivery)).all()}
    assert attempts[hook] == 1


def test_two_runs_at_once_send_each_reminder_once(smtp, tmp_path):
    people = [
        {"key": f"p{i}", "name": f"Person {i}", "channels": [f"p{i}@example.org"]} for i in range(8)
    ]
    measures = [
        {"number": n, "title": f"Tiltak {n}", "owner": f"p{n % 8}", "planned_end": "2020-06-01"}
        for n in range(1, 41)
    ]
    import_plan_data(tmp_path, plan_data(people, measures))
    errors = []

    def run():
        try:
            send_reminders(as_of=date(2020, 5, 25))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert delivered_to(smtp) == {f"p{i}@example.org": 1 for i in range(8)}
    with session_scope() as session:
        assert len(session.exec(select(Reminder)).all()) == 40
