"""The reply form in a real browser (the machine's Chromium), used by keyboard alone: a link
from a real invitation, a reply that is refused first (errors announced, tied to fields),
then corrected and recorded; axe-core finds no serious or critical violation; bokmål and
nynorsk. Screenshots of the form and of the error state go to test-output/."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from models.db import session_scope
from models.reporting import StatusReport
from tests.browser import browser_page, serious_violations
from tests.conftest import REPO
from tests.web import Invitee, live_app, open_bundled_round  # noqa: F401

pytestmark = pytest.mark.browser
SHOTS = REPO / "test-output"
VIEWPORT = {"width": 900, "height": 1100}
FOCUSED = """() => {
  const e = document.activeElement;
  return e.id || `${e.tagName.toLowerCase()}:${(e.textContent || '').trim().slice(0, 40)}`;
}"""


def focused(page) -> str:
    """The id of the element with keyboard focus (or its tag and text when it has no id)."""
    return page.evaluate(FOCUSED)


def tab_to(page, target: str, limit: int = 40, key: str = "Tab") -> list[str]:
    """Press Tab (as a keyboard user does) until ``target`` has focus; the path taken.
    ``target`` is an id, or "tag:" and the start of the text of an element without one."""
    path = []
    for _ in range(limit):
        page.keyboard.press(key)
        path.append(focused(page))
        if path[-1] == target or (":" in target and path[-1].startswith(target)):
            return path
    pytest.fail(f"{target} never got focus by {key}; focus went {path}")


def checked(page, token: str) -> str | None:
    return page.evaluate(
        "(name) => document.querySelector(`input[name='${name}']:checked`)?.value ?? null",
        f"{token}.status",
    )


def submit_by_keyboard(page, key: str) -> int:
    """Press ``key`` on the focused submit button; the status of the form post."""
    assert page.evaluate("() => document.activeElement.type") == "submit"
    with (
        page.expect_navigation(wait_until="load"),
        page.expect_response(lambda r: r.request.method == "POST") as posted,
    ):
        page.keyboard.press(key)
    return posted.value.status


def assert_accessible(page, what: str) -> None:
    violations = serious_violations(page)
    assert violations == [], f"axe-core on {what}: {violations}"


def shoot(page, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=False)
    return path


def rows_of(submission: str) -> list[StatusReport]:
    with session_scope() as session:
        return list(
            session.exec(
                select(StatusReport)
                .where(StatusReport.submission == submission)
                .order_by(StatusReport.id)
            ).all()
        )


def assert_error_state(page, n: int, errors: dict[str, str]) -> None:
    """The refused reply as a screen reader user meets it: the title counts the errors, the
    summary is an alert with focus, its links lead to fields that point at their message."""
    assert page.title().startswith(n)
    summary = page.locator("#error-summary")
    assert summary.get_attribute("role") == "alert"
    assert focused(page) == "error-summary", "the error summary should have focus on load"
    hrefs = summary.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [f"#{field}" for field in errors]
    for field, message in errors.items():
        described = page.locator(f"#{field}").get_attribute("aria-describedby").split()
        assert f"{field}-error" in described
        assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true"
        assert message in page.locator(f"#{field}-error").inner_text()


def test_keyboard_reply_refused_then_recorded_bokmal(live_app) -> None:  # noqa: F811
    person: Invitee = open_bundled_round()["hdir-koordinator"]  # bokmål, two items
    measure = person.items[0]
    with browser_page(viewport=VIEWPORT, locale="nb-NO") as page:
        page.goto(person.url)  # the link as the invitation message holds it
        assert page.locator("html").get_attribute("lang") == "nb"
        assert page.locator("h1").inner_text() == "Statusrapport: 2. tertial 2020"
        assert_accessible(page, "the form")
        shoot(page, "reply-form.png")

        # Tab from the top: skip link, the two other languages, then the first status radio
        path = tab_to(page, "i1-status-not_started")
        assert path == ["a:Hopp til innholdet", "a:Nynorsk", "a:English", "i1-status-not_started"]
        assert checked(page, measure) is None  # focus alone chooses nothing
        page.keyboard.press("Space")
        assert checked(page, measure) == "not_started"
        for _ in range(3):
            page.keyboard.press("ArrowDown")
        assert focused(page) == "i1-status-delayed" and checked(page, measure) == "delayed"
        page.keyboard.press("Tab")  # out of the radio group, to the next field
        assert focused(page) == "i1-progress"
        page.keyboard.type("30")
        page.keyboard.press("Tab")
        assert focused(page) == "i1-done"
        page.keyboard.type("Kartlagt tilbudet i tre kommuner.")
        tab_to(page, "button:Lagre og send status")
        assert submit_by_keyboard(page, "Enter") == 400  # delayed needs a date and a risk note

        assert_error_state(
            page,
            "Skjemaet har 2 feil",
            {
                "i1-expected_completion": "Oppgi ny forventet ferdigdato",
                "i1-risk_note": "Beskriv risikoen",
            },
        )
        assert checked(page, measure) == "delayed"  # what was typed is kept
        assert page.locator("#i1-progress").input_value() == "30"
        assert page.locator("#i1-done").input_value() == "Kartlagt tilbudet i tre kommuner."
        assert_accessible(page, "the error state")
        shoot(page, "reply-form-errors.png")

        # From the summary: its first link leads to the field; correct it and the next one
        tab_to(page, "a:Tiltak 14, Ny forventet ferdigdato", limit=1)
        page.keyboard.press("Enter")
        assert focused(page) == "i1-expected_completion"
        shoot(page, "reply-form-error-field.png")  # scrolled to the field, which has focus
        for shown in ("label[for=i1-expected_completion]", "#i1-expected_completion-error"):
            assert page.locator(shown).evaluate("e => e.getBoundingClientRect().top") >= 0, shown
        border = "e => getComputedStyle(e).borderTopColor"
        assert page.locator("#i1-expected_completion").evaluate(border) == "rgb(176, 0, 32)"
        page.keyboard.type("2021-06-30")
        page.keyboard.press("Tab")
        assert focused(page) == "i1-risk_note"
        page.keyboard.type("Rekruttering tar lengre tid enn planlagt.")
        tab_to(page, "button:Lagre og send status")
        assert submit_by_keyboard(page, "Space") == 303

        assert "/receipt/" in page.url
        assert page.locator("h1").inner_text() == "Takk, statusen er registrert"
        receipt = page.locator("main").inner_text()
        assert "Tiltak 14" in receipt and "forsinket" in receipt and "30 %" in receipt
        assert "Kartlagt tilbudet i tre kommuner." in receipt  # what was done, as recorded
        assert "onsdag 30. juni 2021" in receipt  # the expected completion
        assert_accessible(page, "the receipt")
        submission = urlsplit(page.url).path.rsplit("/", 1)[1]

    (row,) = rows_of(submission)
    assert (row.item, row.status, row.progress) == (measure, "delayed", 30)
    assert row.done == "Kartlagt tilbudet i tre kommuner."
    assert row.expected_completion.isoformat() == "2021-06-30"
    assert row.risk_note == "Rekruttering tar lengre tid enn planlagt."
    assert row.contact_id == person.contact_id and row.round_id is not None


def test_keyboard_reply_in_nynorsk(live_app) -> None:  # noqa: F811
    bundled = open_bundled_round()
    ingrid = bundled["hdir-tjenester"]  # nynorsk, five items
    with browser_page(viewport=VIEWPORT, locale="nn-NO") as page:
        page.goto(ingrid.url)
        assert page.locator("html").get_attribute("lang") == "nn"
        assert "Hei Ingrid Hansen" in page.locator("main").inner_text()
        radio = page.locator("#i1-status").get_by_role("radio", name="ikkje starta", exact=True)
        assert radio.get_attribute("id") == "i1-status-not_started"  # labelled in nynorsk
        assert_accessible(page, "the nynorsk form")
        shoot(page, "reply-form-nn.png")
        tab_to(page, "i1-status-not_started")
        page.keyboard.press("Space")
        page.keyboard.press("ArrowDown")
        assert checked(page, ingrid.items[0]) == "on_track"
        page.keyboard.press("Tab")
        page.keyboard.type("120")  # out of range: refused in nynorsk
        tab_to(page, "button:Lagre og send status")
        assert submit_by_keyboard(page, "Enter") == 400
        assert_error_state(
            page, "Skjemaet har 1 feil", {"i1-progress": "Framdrifta må vere mellom 0 og 100."}
        )
        assert_accessible(page, "the nynorsk error state")
        shoot(page, "reply-form-nn-errors.png")
        tab_to(page, "a:Tiltak 65, Framdrift", limit=1)  # the summary's link, then Enter
        page.keyboard.press("Enter")
        assert focused(page) == "i1-progress"
        page.keyboard.press("Control+A")
        page.keyboard.type("60")
        tab_to(page, "button:Lagre og send status")
        assert submit_by_keyboard(page, "Enter") == 303
        assert page.locator("h1").inner_text() == "Takk, statusen er registrert"
        assert "Framdrift" in page.locator("main").inner_text()
        submission = urlsplit(page.url).path.rsplit("/", 1)[1]
    (row,) = rows_of(submission)
    assert (row.item, row.status, row.progress) == (ingrid.items[0], "on_track", 60)
    assert row.contact_id == ingrid.contact_id


def test_language_switch_to_nynorsk_by_keyboard(live_app) -> None:  # noqa: F811
    bundled = open_bundled_round()
    jonas = bundled["bfd-kontakt"]  # bokmål, one item
    sigrid = bundled["kmd-kontakt"]  # nynorsk by her own setting
    with browser_page(viewport=VIEWPORT) as page:
        page.goto(sigrid.url)
        assert page.locator("html").get_attribute("lang") == "nn"
        assert "Hei Sigrid Vik" in page.locator("main").inner_text()

        page.goto(jonas.url)
        assert page.locator("html").get_attribute("lang") == "nb"
        tab_to(page, "a:Nynorsk", limit=3)
        page.keyboard.press("Enter")
        page.wait_for_url("**?lang=nn")
        assert page.locator("html").get_attribute("lang") == "nn"
        assert page.locator("nav [aria-current]").inner_text() == "Nynorsk"
        assert "Kva er gjort" in page.locator("form").inner_text()
        assert_accessible(page, "the form switched to nynorsk")
        tab_to(page, "button:Lagre og send status")
        assert submit_by_keyboard(page, "Enter") == 400  # nothing filled in
        assert page.locator("html").get_attribute("lang") == "nn"  # still in nynorsk
        assert focused(page) == "error-summary"
        assert (
            "Fyll inn status for minst eitt tiltak" in page.locator("#error-summary").inner_text()
        )
        tab_to(page, "a:Status: Fyll inn status", limit=1)
        page.keyboard.press("Enter")  # the link leads into the status group
        assert focused(page) == "i1-status"
        page.keyboard.press("Tab")
        assert focused(page) == "i1-status-not_started"
        page.keyboard.press("Space")
        tab_to(page, "button:Lagre og send status")
        assert submit_by_keyboard(page, "Space") == 303
        assert urlsplit(page.url).query == "lang=nn"  # the receipt keeps the chosen language
        assert "Tilbake til skjemaet" in page.locator("main").inner_text()
        assert page.locator(".recorded").inner_text().count("ikkje starta") == 1
        submission = urlsplit(page.url).path.rsplit("/", 1)[1]
    (row,) = rows_of(submission)
    assert (row.item, row.status, row.contact_id) == (
        jonas.items[0],
        "not_started",
        jonas.contact_id,
    )
