"""Every message template renders in every language; HTML escapes what people typed."""

from datetime import date
from pathlib import Path

import pytest

from models.db import session_scope
from models.importer import import_path
from models.language import Language
from models.messages import RecipientRole
from models.queries import get_plan
from models.reminders import DueReminder, load_context
from models.rounds import Chase
from models.schedule import policy_for, stages
from models.tokens import reply_url
from notifications.reminder_digest import render_reminder_digest
from notifications.render import date_full, environment, render
from notifications.strings import STRINGS
from tests.conftest import BUNDLED_PLAN

LANGUAGES = ["nb", "nn", "en"]
TEMPLATES = Path(__file__).resolve().parents[2] / "notifications" / "templates"


def test_babel_dates_in_each_language():
    assert date_full(date(2020, 5, 25), "nb") == "mandag 25. mai 2020"
    assert date_full(date(2020, 5, 25), "nn") == "måndag 25. mai 2020"
    assert date_full(date(2020, 5, 25), "en") == "Monday, 25 May 2020"


def test_every_language_has_every_string():
    assert set(STRINGS["nb"]) == set(STRINGS["nn"]) == set(STRINGS["en"])


def test_html_templates_autoescape_and_text_templates_do_not():
    env = environment()
    for path in TEMPLATES.iterdir():
        template = env.get_template(path.name)
        rendered_html = path.name.endswith(".html.j2")
        assert env.autoescape(template.name) is rendered_html, path.name


def _digest(engine_ready, language: str, title: str | None = None):
    with session_scope() as session:
        ctx = load_context(session, get_plan(session))
        contact = next(c for c in ctx.contacts.values() if c.key == "hdir-koordinator")
        contact.language = Language(language)
        items = {i.label: i for i in ctx.items}
        item = items["t10-2020-gjennomforingsplan"]
        if title:
            item.title = title
        stage = next(stages(item.deadline, policy_for(None)))
        due = [
            DueReminder(item, stage, contact.id, RecipientRole.OWNER),
            DueReminder(items["4"], stage, contact.id, RecipientRole.ESCALATION),
            DueReminder(items["14"], stage, contact.id, RecipientRole.UNOWNED),
        ]
        chase = Chase(7, "Gjennomføringsplan", date(2020, 6, 1), contact.id, 2, 3)
        return render_reminder_digest(ctx, contact, due, date(2020, 5, 29), [chase])


def rendered_contact_id(engine_ready) -> int:
    with session_scope() as session:
        ctx = load_context(session, get_plan(session))
        return next(c.id for c in ctx.contacts.values() if c.key == "hdir-koordinator")


@pytest.fixture
def bundled(engine):
    with session_scope() as session:
        import_path(session, str(BUNDLED_PLAN))
    return engine


@pytest.mark.parametrize("language", LANGUAGES)
def test_reminder_digest_renders_in_every_language(bundled, language):
    rendered = _digest(bundled, language)
    whit_monday = {"nb": "2. pinsedag", "nn": "2. pinsedag", "en": "Pentecost Monday"}[language]
    for body in (rendered.text, rendered.html):
        assert whit_monday in body
        assert reply_url(7, rendered_contact_id(bundled)) in body
    assert f'<html lang="{language}">' in rendered.html
    expected_subject = {
        "nb": "Påminnelse: Oppdrag t10-2020-gjennomforingsplan har frist mandag 1. juni 2020",
        "nn": "Påminning: Oppdrag t10-2020-gjennomforingsplan har frist måndag 1. juni 2020",
        "en": "Reminder: Assignment t10-2020-gjennomforingsplan is due Monday, 1 June 2020",
    }[language]
    assert rendered.subject == expected_subject
    heading = STRINGS[language]["escalated_heading"]
    assert heading in rendered.text and heading in rendered.html


def test_text_typed_by_people_is_escaped_in_html(bundled):
    rendered = _digest(bundled, "nb", title="<script>alert(1)</script> & «plan»")
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; «plan»" in rendered.html
    assert "<script>alert(1)</script> & «plan»" in rendered.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_delivery_failure_notice_renders_in_every_language(bundled, language):
    with session_scope() as session:
        plan = get_plan(session)
    rendered = render(
        "delivery_failure",
        language,
        subject="s",
        recipient="Kari",
        plan=plan,
        lines=[dict(recipient="Ola <b>", channel="env:X", error="refused", subject="Påminnelse")],
    )
    assert STRINGS[language]["failure_intro"] in rendered.text
    assert "Ola &lt;b&gt;" in rendered.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_run_failure_notice_renders_in_every_language(language):
    from notifications.run_failure import RunFailure

    failure = RunFailure(
        flow="send-reminders",
        run_name="send-reminders 2020-05-25",
        run_id="1",
        link="http://127.0.0.1:4200/runs/flow-run/1",
        message="ValueError: <bad> & worse",
    )
    rendered = render("run_failure", language, subject="s", recipient="Kari", failure=failure)
    intro = STRINGS[language]["run_failed_intro"].format(run=failure.run_name, flow=failure.flow)
    assert intro in rendered.text and STRINGS[language]["run_failed_link"] in rendered.text
    assert f'href="{failure.link}"' in rendered.html
    assert "ValueError: &lt;bad&gt; &amp; worse" in rendered.html


def test_a_missing_variable_is_an_error_not_a_blank():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("delivery_failure", "nb", subject="s", lines=[])


def test_no_string_key_is_named_like_a_dict_attribute():
    """The templates' environment (KeysFirst) reads ``t.name`` as a key before an attribute:
    a key named ``items`` or ``get`` would hide the dict's method of that name."""
    from followup.web.strings import WEB
    from notifications.render import KeysFirst
    from notifications.strings import STRINGS
    from notifications.summary_strings import WORDS

    for table in (WEB, STRINGS, WORDS):
        for language, strings in table.items():
            assert not set(strings) & set(dir(dict)), language
    env = KeysFirst()
    assert env.getattr({"label": "Tiltak 1"}, "label") == "Tiltak 1"
    assert env.getattr({"label": "x"}, "get")("label") == "x"  # not a key: the method
