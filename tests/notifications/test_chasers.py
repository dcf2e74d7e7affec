"""Round chasers: people who have not answered a round are reminded in their daily digest
until the reply deadline, once a day, beside their deadline reminders; after the deadline the
coordinator is told, once, who is missing."""

from datetime import date

import pytest
from sqlmodel import select

from models.db import session_scope
from models.messages import Digest, DigestKind
from models.plan import Contact
from models.replies import ItemReply, record_reply
from models.reporting import ReplyChannel, ReportingRound
from models.rollup import compute_rollup
from models.rounds import extend_round, open_round, scope_of
from models.status import Status
from models.tokens import reply_url
from notifications.dispatch import preview_reminders, queue_reminders
from notifications.summary import reminder_words
from notifications.summary_strings import WORDS
from tests.plans import import_plan_data, plan_data

PEOPLE = [
    {"key": "ola", "name": "Ola Nordmann", "language": "nb", "channels": ["ola@example.org"]},
    {"key": "siri", "name": "Siri Vik", "language": "nn", "channels": ["siri@example.org"]},
]
MEASURES = [
    {"number": 1, "title": "Skolehelsetjenesten", "owner": "ola", "planned_end": "2021-12-31"},
    {"number": 2, "title": "Lavterskeltilbud", "owner": "siri", "planned_end": "2020-05-12"},
]
MONDAY, DEADLINE = date(2020, 5, 4), date(2020, 5, 8)


@pytest.fixture
def round_id(settings_env, tmp_path) -> int:
    import_plan_data(tmp_path, plan_data(PEOPLE, MEASURES))
    with session_scope() as session:
        return open_round(session, label="Vårrunden", as_of=MONDAY, deadline=DEADLINE).id


def digests_on(day: date) -> list[tuple[str, DigestKind, str, str]]:
    with session_scope() as session:
        names = {c.id: c.key for c in session.exec(select(Contact)).all()}
        return [
            (names[d.contact_id], d.kind, d.subject, d.text)
            for d in session.exec(select(Digest).where(Digest.as_of == day).order_by(Digest.id))
        ]


def contact(session, key: str) -> Contact:
    return session.exec(select(Contact).where(Contact.key == key)).one()


def answer(round_id: int, key: str) -> None:
    with session_scope() as session:
        who = contact(session, key)
        items = [ItemReply(r.item, Status.ON_TRACK) for r in scope_of(session, round_id, who.id)]
        record_reply(
            session, session.get(ReportingRound, round_id), who.id, items, channel=ReplyChannel.WEB
        )


def test_missing_replies_join_the_daily_digest_until_the_deadline(round_id):
    queue_reminders(MONDAY)
    # The invitation went out that day: no chaser on top (Siri's deadline reminder goes).
    assert [(key, "Status etterspurd" in text) for key, _, _, text in digests_on(MONDAY)] == [
        ("siri", False)
    ]

    # A dry run shows the chasers and claims nothing: the real run still sends them.
    previews = preview_reminders(date(2020, 5, 5))
    assert {p["recipient"] for p in previews} == {"Ola Nordmann", "Siri Vik"}
    assert any(
        "Status etterspurt" in p["text"] for p in previews if p["recipient"] == "Ola Nordmann"
    )
    queue_reminders(date(2020, 5, 5))
    by_person = {
        key: (kind, subject, text) for key, kind, subject, text in digests_on(date(2020, 5, 5))
    }
    assert set(by_person) == {"ola", "siri"}
    kind, subject, text = by_person["ola"]
    assert kind == DigestKind.REMINDER
    assert subject == "Påminnelse: status for «Vårrunden» mangler, frist fredag 8. mai 2020"
    assert "«Vårrunden»: 1 av 1 mangler svar, frist fredag 8. mai 2020." in text
    with session_scope() as session:
        assert reply_url(round_id, contact(session, "ola").id) in text
        siri_link = reply_url(round_id, contact(session, "siri").id)
    # Siri's measure is due in 7 days: one message carries the reminder and the request.
    _, subject, text = by_person["siri"]
    assert subject.startswith("Påminning: Tiltak 2 har frist")
    assert "Status etterspurd" in text and siri_link in text and "Lavterskeltilbud" in text

    answer(round_id, "ola")
    queue_reminders(date(2020, 5, 6))
    queue_reminders(date(2020, 5, 6))  # a second run that day sends nothing more
    assert [(key, kind) for key, kind, _, _ in digests_on(date(2020, 5, 6))] == [
        ("siri", DigestKind.REMINDER)
    ]


def test_the_coordinator_is_told_once_who_is_missing_after_the_deadline(round_id):
    answer(round_id, "ola")
    queue_reminders(DEADLINE)
    assert [key for key, *_ in digests_on(DEADLINE)] == ["siri"]  # chased on the last day

    assert queue_reminders(date(2020, 5, 9)) == (0, 0)  # Saturday: nothing at all
    queue_reminders(date(2020, 5, 11))
    queue_reminders(date(2020, 5, 11))
    told = [d for d in digests_on(date(2020, 5, 11)) if d[1] == DigestKind.MISSING_REPLIES]
    assert [key for key, *_ in told] == ["koord"]  # once, though the run was repeated
    _, _, subject, text = told[0]
    assert subject == "Svarfristen for «Vårrunden» er ute: 1 av 2 har ikke svart"
    assert (
        "Siri Vik: 1 av 1 mangler svar" in text
        and "«Vårrunden», svarfrist fredag 8. mai 2020" in text
        and "Ola Nordmann" not in text
    )
    queue_reminders(date(2020, 5, 12))
    assert DigestKind.MISSING_REPLIES not in [
        kind for _, kind, _, _ in digests_on(date(2020, 5, 12))
    ]


def test_an_extended_round_keeps_chasing_and_reports_after_the_new_deadline(round_id):
    with session_scope() as session:
        extend_round(session, session.get(ReportingRound, round_id), date(2020, 5, 13), "Kari")
    queue_reminders(date(2020, 5, 11))
    assert {key for key, *_ in digests_on(date(2020, 5, 11))} == {"ola", "siri"}
    answer(round_id, "ola")
    answer(round_id, "siri")
    queue_reminders(date(2020, 5, 14))
    after = digests_on(date(2020, 5, 14))  # all answered: no chaser, no missing notice
    assert DigestKind.MISSING_REPLIES not in [kind for _, kind, _, _ in after]
    assert not any("Status etterspurd" in text or "Status etterspurt" in text for *_, text in after)


def test_the_summary_shows_who_was_chased_when_in_words(round_id):
    queue_reminders(date(2020, 5, 5))
    queue_reminders(date(2020, 5, 6))
    with session_scope() as session:
        rollup = compute_rollup(session, round_id=round_id, as_of=DEADLINE)
    siri = next(m for m in rollup.missing if m.asked == "Siri Vik")
    events = [(e.on, e.what, e.to) for e in siri.reminders]
    assert (date(2020, 5, 5), "T-7", "Siri Vik") in events  # her deadline reminder
    assert [e for e in events if e[1] == "round_reminder"] == [
        (date(2020, 5, 5), "round_reminder", "Siri Vik"),
        (date(2020, 5, 6), "round_reminder", "Siri Vik"),
    ]
    words = WORDS["nb"]
    assert reminder_words("round_reminder", words) == "påminnelse om svar i runden"
    assert reminder_words("T-7", words) == "påminnelse 7 dager før fristen"
    assert reminder_words("overdue-2", words) == "purring nr. 2 etter fristen"
