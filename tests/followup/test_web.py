"""The reply web app over HTTP, served for real (uvicorn on loopback) on SQLite and PostgreSQL:
links from real invitation messages, refusals that write nothing, validation, receipts,
escaping, concurrent replies, security headers, languages and key rotation."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func
from sqlmodel import select

from followup.web.app import MAX_BODY_BYTES
from models.db import session_scope
from models.replies import ItemReply, record_reply
from models.reporting import ReplyChannel, ReportingRound, StatusReport
from models.rounds import close_round
from models.settings import get_settings
from models.status import Status
from models.tokens import SALT, make_token
from tests.servers import free_port
from tests.web import (  # noqa: F401
    BundledRound,
    Invitee,
    live_app,
    open_bundled_round,
    read_form,
    wait_healthy,
)

NINE_DIGITS = "123456789"


def reports() -> list[StatusReport]:
    with session_scope() as session:
        return list(session.exec(select(StatusReport).order_by(StatusReport.id)).all())


def report_count() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(StatusReport)).one()


def path_of(url: str) -> str:
    return urlsplit(url).path


def fields(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields in the shape httpx posts (a name may repeat)."""
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def form_pairs(person: Invitee, replies: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """A post as the form sends it: every item named, fields only for those filled in."""
    data = [("lang", person.language)] + [("item", token) for token in person.items]
    for token, typed in replies.items():
        data += [(f"{token}.{name}", value) for name, value in typed.items()]
    return data


def form_data(person: Invitee, replies: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    return fields(form_pairs(person, replies))


@pytest.fixture
def bundled(live_app) -> BundledRound:  # noqa: F811
    return open_bundled_round()


@pytest.fixture
def client(live_app) -> httpx.Client:  # noqa: F811
    with httpx.Client(base_url=live_app, timeout=10, follow_redirects=False) as c:
        yield c


def test_links_in_invitations_lead_to_the_live_app(live_app, bundled) -> None:  # noqa: F811
    person = bundled["kari.nordmann@example.org"]
    assert person.url.startswith(f"{live_app}/r/{bundled.round_id}/")
    assert person.key == "hdir-koordinator" and len(person.items) == 2
    assert httpx.get(person.url).status_code == 200


def test_form_lists_exactly_the_persons_items_with_last_status(client, bundled) -> None:
    person = bundled["hdir-tjenester"]  # five items, nynorsk
    first, second = person.items[0], person.items[1]
    with session_scope() as session:
        rnd = session.get(ReportingRound, bundled.round_id)
        record_reply(
            session,
            rnd,
            person.contact_id,
            [ItemReply(first, Status.AT_RISK, 40, "Gjort: <b>mykje</b>", None, None, "Risiko")],
            channel=ReplyChannel.COORDINATOR,
        )
    response = client.get(path_of(person.url))
    assert response.status_code == 200
    form = read_form(response.text)
    assert form.items == list(person.items)
    others = {t for p in bundled.people.values() if p.key != person.key for t in p.items}
    assert not others & set(form.items)
    assert form.values[f"{first}.status"] == "at_risk"
    assert form.values[f"{first}.progress"] == "40"
    assert form.values[f"{first}.done"] == "Gjort: <b>mykje</b>"
    assert form.values[f"{first}.risk_note"] == "Risiko"
    assert f"{second}.status" not in form.values  # nothing reported: no radio checked
    assert form.values[f"{second}.progress"] == ""
    assert "Sist rapportert: risiko for forseinking" in response.text
    assert 'lang="nn"' in response.text and "Ingrid Hansen" in response.text


def test_bad_tokens_are_refused_and_write_nothing(client, bundled) -> None:
    person = bundled["hdir-folkehelse"]
    round_id = bundled.round_id
    token = path_of(person.url).rsplit("/", 1)[1]
    payload, signature = token.split(".")
    other = bundled["hdir-koordinator"]
    other_payload = path_of(other.url).rsplit("/", 1)[1].split(".")[0]
    forged = URLSafeSerializer("not-our-key", salt=SALT).dumps([round_id, person.contact_id])
    # The first character, not the last: base64's last character carries padding bits, and
    # changing only those leaves the same signature (a test that passed by luck, 1 in 16).
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    second = open_bundled_round(label="3. tertial 2020", import_plan=False)
    token_round2 = path_of(second["hdir-folkehelse"].url).rsplit("/", 1)[1]
    cases = {
        "forged with another key": f"/r/{round_id}/{forged}",
        "signature altered": f"/r/{round_id}/{payload}.{flipped}",
        "payload swapped for another person's": f"/r/{round_id}/{other_payload}.{signature}",
        "truncated": f"/r/{round_id}/{payload}",
        "token of another round": f"/r/{round_id}/{token_round2}",
        "round id changed in the path": f"/r/{second.round_id}/{token}",
        "round that does not exist": f"/r/{round_id + 100}/{token}",
    }
    post = form_data(person, {person.items[0]: {"status": "on_track", "progress": "50"}})
    for case, path in cases.items():
        got = client.get(path)
        assert got.status_code == 403, case
        assert "Lenken er ikke gyldig" in got.text, case
        assert person.name not in got.text, case
        posted = client.post(path, data=post)
        assert posted.status_code == 403, case
    assert report_count() == 0
    assert client.post(path_of(person.url), data=post).status_code == 303  # the real link works
    assert report_count() == 1


def test_closed_round_is_gone_and_writes_nothing(client, bundled) -> None:
    person = bundled["hdir-folkehelse"]
    with session_scope() as session:
        close_round(session, session.get(ReportingRound, bundled.round_id), by="test")
    got = client.get(path_of(person.url))
    assert got.status_code == 410
    assert "Runden er lukket" in got.text and "Kari Nordmann" in got.text
    post = form_data(person, {person.items[0]: {"status": "on_track"}})
    assert client.post(path_of(person.url), data=post).status_code == 410
    assert report_count() == 0


def test_invalid_post_is_400_with_input_kept_and_errors_listed(client, bundled) -> None:
    person = bundled["hdir-koordinator"]
    first, second = person.items
    typed = {
        first: {"status": "delayed", "progress": "140", "done": "Skrevet <i>før</i> feilen"},
        second: {"status": "on_track", "progress": "30", "next_steps": "Neste møte"},
    }
    response = client.post(path_of(person.url), data=form_data(person, typed))
    assert response.status_code == 400
    form = read_form(response.text)
    for token, fields in typed.items():
        for name, value in fields.items():
            assert form.values[f"{token}.{name}"] == value, (token, name)
    # delayed: a new date and a risk note are required; 140 % is out of range
    assert form.summary_links == ["#i1-progress", "#i1-expected_completion", "#i1-risk_note"]
    for href in form.summary_links:
        field = form.ids[href[1:]]
        assert field.get("aria-invalid") == "true"
        error_id = f"{href[1:]}-error"
        assert error_id in field["aria-describedby"].split()
        assert error_id in form.ids
    assert 'role="alert"' in response.text
    assert "<title>Skjemaet har 3 feil" in response.text
    assert "Fremdriften må være mellom 0 og 100." in response.text
    assert report_count() == 0  # not even the valid second item: all or nothing


def test_empty_post_asks_for_a_status(client, bundled) -> None:
    person = bundled["hdir-koordinator"]
    response = client.post(path_of(person.url), data=form_data(person, {}))
    assert response.status_code == 400
    assert read_form(response.text).summary_links == ["#i1-status"]
    assert "Fyll inn status for minst ett tiltak eller oppdrag." in response.text
    assert report_count() == 0


def assert_nothing_error_tied_to_first_status(html: str, person: Invitee) -> None:
    """The form again, whole, with the one error listed at the top and shown at the first
    status group, which points at it; the radios say they are invalid."""
    form = read_form(html)
    assert form.items == list(person.items)  # the whole form, not an error page
    assert form.summary_links == ["#i1-status"]
    assert "<title>Skjemaet har 1 feil" in html and 'role="alert"' in html
    group = form.ids["i1-status"]
    assert group["tag"] == "fieldset"
    assert "i1-status-error" in group["aria-describedby"].split()
    assert form.ids["i1-status-error"]["tag"] == "p"
    assert "Feil:</span> Fyll inn status for minst ett tiltak eller oppdrag." in html
    for value in ("not_started", "on_track", "completed"):
        assert form.ids[f"i1-status-{value}"].get("aria-invalid") == "true"
    assert "aria-invalid" not in form.ids["i2-status-on_track"]  # only the first is marked


def test_post_without_any_field_shows_the_form_with_the_error_at_its_field(client, bundled) -> None:
    person = bundled["hdir-koordinator"]
    path = path_of(person.url)
    bodies = {
        "no body at all": {},
        "an empty form": {
            "content": b"",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
        "broken multipart": {
            "content": b"--x\r\nnonsense",
            "headers": {"content-type": "multipart/form-data; boundary=x"},
        },
        "multipart without a boundary": {
            "content": b"",
            "headers": {"content-type": "multipart/form-data"},
        },
    }
    for case, body in bodies.items():
        response = client.post(path, **body)
        assert response.status_code == 400, case
        assert response.headers["content-type"].startswith("text/html"), case
        assert '<html lang="nb">' in response.text, case
        assert_nothing_error_tied_to_first_status(response.text, person)
    # the form as served, sent back untouched (every item named, nothing filled in)
    untouched = client.post(path, data=form_data(person, {}))
    assert_nothing_error_tied_to_first_status(untouched.text, person)
    assert report_count() == 0


def test_another_persons_measure_is_refused_and_nothing_written(client, bundled) -> None:
    person, other = bundled["hdir-koordinator"], bundled["hdir-folkehelse"]
    foreign = other.items[0]
    only_foreign = [("item", foreign), (f"{foreign}.status", "completed")]
    mixed = form_data(
        person, {person.items[0]: {"status": "on_track"}, foreign: {"status": "completed"}}
    )
    for data in (fields(only_foreign), mixed):
        response = client.post(path_of(person.url), data=data)
        assert response.status_code == 403
        assert "ikke er ditt i denne runden" in response.text
    foreign_field_only = [*form_pairs(person, {}), (f"{foreign}.status", "completed")]
    assert client.post(path_of(person.url), data=fields(foreign_field_only)).status_code == 403
    assert report_count() == 0


def test_successful_post_redirects_to_the_receipt_and_is_recorded(client, bundled) -> None:
    person = bundled["hdir-koordinator"]
    first, second = person.items
    typed = {
        first: {
            "status": "delayed",
            "progress": "35",
            "done": "Kartlagt",
            "next_steps": "Pilot",
            "expected_completion": "2021-03-31",
            "risk_note": "Forsinket oppstart",
        },
        second: {"status": "completed", "progress": "100"},
    }
    response = client.post(path_of(person.url), data=form_data(person, typed))
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"{path_of(person.url)}/receipt/")
    submission = urlsplit(location).path.rsplit("/", 1)[1]
    rows = reports()
    assert [(r.item, r.status, r.progress) for r in rows] == [
        (first, "delayed", 35),
        (second, "completed", 100),
    ]
    assert {r.submission for r in rows} == {submission}
    assert rows[0].expected_completion.isoformat() == "2021-03-31"
    assert rows[0].risk_note == "Forsinket oppstart" and rows[0].channel == ReplyChannel.WEB
    assert rows[0].contact_id == person.contact_id and rows[0].entered_by == person.name
    receipt = client.get(location)
    assert receipt.status_code == 200
    assert "Takk, statusen er registrert" in receipt.text
    assert "forsinket" in receipt.text and "35 %" in receipt.text and "100 %" in receipt.text
    assert submission[:12] in receipt.text
    # the receipt belongs to this person: another person's link cannot read it
    other_path = path_of(bundled["hdir-folkehelse"].url)
    assert client.get(f"{other_path}/receipt/{submission}").status_code == 404
    # and the form now shows what was sent
    form = read_form(client.get(path_of(person.url)).text)
    assert form.values[f"{first}.status"] == "delayed"
    assert form.values[f"{second}.progress"] == "100"


def test_behind_a_proxy_at_a_path_the_receipt_is_addressed_under_it(
    client, bundled, monkeypatch
) -> None:
    """A proxy serves the app at /followup and strips it: the app's own redirect and links
    must carry it, as the links in messages do, or the browser would land outside the app."""
    person = bundled["hdir-koordinator"]
    monkeypatch.setenv("FOLLOWUP_PUBLIC_URL", f"{str(client.base_url).rstrip('/')}/followup/")
    get_settings.cache_clear()
    typed = {tok: {"status": "on_track", "progress": "10"} for tok in person.items}

    response = client.post(path_of(person.url), data=form_data(person, typed))

    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"/followup{path_of(person.url)}/receipt/")
    receipt = client.get(location.removeprefix("/followup"))  # as the proxy passes it on
    assert receipt.status_code == 200
    assert f'href="/followup{path_of(person.url)}?lang=nb"' in receipt.text


def test_receipt_shows_what_was_recorded_per_item(client, bundled) -> None:
    person = bundled["hdir-koordinator"]  # bokmål, two items
    first, second = person.items
    long_done = "Kartlagt tilbudet i tre kommuner og holdt arbeidsmøter. " * 10
    typed = {
        first: {
            "status": "delayed",
            "progress": "35",
            "done": long_done,
            "next_steps": "Pilot i <b>to</b> kommuner",
            "expected_completion": "2021-03-31",
            "risk_note": "Forsinket oppstart",
        },
        second: {"status": "completed"},
    }
    response = client.post(path_of(person.url), data=form_data(person, typed))
    assert response.status_code == 303
    receipt = client.get(response.headers["location"])
    assert receipt.status_code == 200
    sections = receipt.text.split('<section class="recorded"')[1:]
    assert len(sections) == 2
    one, two = sections
    assert "Tiltak 14" in one
    for shown in (
        "<dt>Status</dt><dd>forsinket</dd>",
        "<dt>Fremdrift</dt><dd>35 %</dd>",
        "<dt>Forventet ferdig</dt><dd>onsdag 31. mars 2021</dd>",
        "<dt>Neste steg</dt><dd>Pilot i &lt;b&gt;to&lt;/b&gt; kommuner</dd>",
        "<dt>Risiko og tiltak</dt><dd>Forsinket oppstart</dd>",
    ):
        assert shown in one, shown
    done = one.split("<dt>Hva er gjort</dt><dd>")[1].split("</dd>")[0]
    assert done.startswith("Kartlagt tilbudet i tre kommuner og holdt arbeidsmøter.")
    assert done.endswith(" …") and len(done) <= 165  # shortened at a word
    assert "Lange tekster er forkortet her" in receipt.text
    # the second item: what was not given says so in words, not by a blank or a colour
    assert "<dt>Status</dt><dd>fullført</dd>" in two
    assert "<dt>Fremdrift</dt><dd>ikke oppgitt</dd>" in two
    assert "<dt>Forventet ferdig</dt><dd>ikke oppgitt</dd>" in two
    assert "Risiko og tiltak" not in two
    # each item is a section named by its heading
    assert 'aria-labelledby="r1"' in one and '<h2 id="r1">' in one
    # the whole text is kept in the history and offered in the form again
    (row,) = [r for r in reports() if r.item == first]
    assert row.done == long_done.strip()
    assert read_form(client.get(path_of(person.url)).text).values[f"{first}.done"] == row.done


def test_html_in_text_is_stored_as_written_and_escaped_when_shown(client, bundled) -> None:
    person = bundled["hdir-folkehelse"]
    token = person.items[0]
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    typed = {token: {"status": "at_risk", "done": hostile, "risk_note": hostile}}
    assert client.post(path_of(person.url), data=form_data(person, typed)).status_code == 303
    (row,) = reports()
    assert row.done == hostile and row.risk_note == hostile
    page = client.get(path_of(person.url)).text
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img" in page
    assert read_form(page).values[f"{token}.done"] == hostile
    # the same in the error state (input kept, escaped)
    typed[token].pop("risk_note")
    invalid = client.post(path_of(person.url), data=form_data(person, typed))
    assert invalid.status_code == 400
    assert "<script>" not in invalid.text
    assert read_form(invalid.text).values[f"{token}.done"] == hostile


def test_odd_input_is_refused_or_made_fit_to_keep_never_a_500(client, bundled) -> None:
    """Digits Python calls digits but int() refuses, four thousand digits, control
    characters (PostgreSQL refuses NUL), a lone CR (Markdown ends a line there) and a file
    where text belongs: each a clear answer, nothing half-written."""
    person = bundled["hdir-folkehelse"]
    token = person.items[0]
    for progress in ["²", "①", "0" * 5000, "1e2", "50.5"]:
        typed = {token: {"status": "on_track", "progress": progress}}
        response = client.post(path_of(person.url), data=form_data(person, typed))
        assert response.status_code == 400, progress
        assert "Skriv fremdriften som et helt tall." in response.text, progress
    assert report_count() == 0
    typed = {token: {"status": "at_risk", "done": "Ferdig\x00 med\x07 del 1", "risk_note": "a\rb"}}
    assert client.post(path_of(person.url), data=form_data(person, typed)).status_code == 303
    (row,) = reports()
    assert row.done == "Ferdig med del 1" and row.risk_note == "a\nb"
    # A file part where "what was done" goes (no browser sends one): not stored as text.
    posted = client.post(
        path_of(person.url),
        data=form_data(person, {token: {"status": "on_track"}}),
        files={f"{token}.done": ("notat.txt", b"fra en fil", "text/plain")},
    )
    assert posted.status_code == 303
    assert reports()[-1].done is None and reports()[-1].status == Status.ON_TRACK


def test_a_body_over_the_limit_is_refused_with_a_page_and_nothing_written(client, bundled) -> None:
    person = bundled["hdir-folkehelse"]
    token = person.items[0]
    big = {token: {"status": "on_track", "done": "x" * (MAX_BODY_BYTES + 1)}}
    response = client.post(path_of(person.url), data=form_data(person, big))
    assert response.status_code == 413
    assert "Skjemaet er for stort" in response.text and "Ingenting ble lagret" in response.text
    assert response.headers["cache-control"] == "no-store"

    def chunks():  # no Content-Length: the limit counts the bytes as they come
        yield f"item={token}&{token}.status=on_track".encode()
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"&x=" + b"y" * 65536  # fields under Starlette's own 1 MB limit per field

    streamed = client.post(
        path_of(person.url),
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    # A forged link is refused for its link, whatever its body.
    forged = path_of(person.url)[:-3] + "AAA"
    assert client.post(forged, data=form_data(person, big)).status_code == 403
    assert report_count() == 0


def test_addresses_and_methods_the_app_does_not_have_get_a_page(client, bundled) -> None:
    person = bundled["hdir-folkehelse"]
    link = path_of(person.url)
    cases = [
        ("GET", f"/r/abc/{link.rsplit('/', 1)[1]}", 404),
        ("GET", "/no/such/page", 404),
        ("PUT", link, 405),
        ("GET", f"{link}/receipt/%00", 404),  # PostgreSQL refuses NUL: not even asked
        ("GET", f"{link}/receipt/{'x' * 5000}", 404),
    ]
    for method, path, status in cases:
        response = client.request(method, path)
        assert response.status_code == status, (method, path)
        assert response.headers["content-type"].startswith("text/html"), (method, path)
        assert "Bruk lenken i e-posten" in response.text or "Lenken" in response.text
        assert response.headers["cache-control"] == "no-store"
    head = client.head(link)  # mail scanners look before people click
    assert head.status_code == 200 and head.content == b""


def test_two_submissions_at_once_for_the_same_item_are_both_kept(live_app, bundled) -> None:  # noqa: F811
    person = bundled["hdir-folkehelse"]
    token = person.items[0]
    barrier = threading.Barrier(2, timeout=10)
    results: dict[str, httpx.Response] = {}

    def submit(progress: str) -> None:
        data = form_data(person, {token: {"status": "on_track", "progress": progress}})
        with httpx.Client(timeout=20) as c:
            barrier.wait()
            results[progress] = c.post(person.url, data=data)

    threads = [threading.Thread(target=submit, args=(p,)) for p in ("10", "20")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert {p: r.status_code for p, r in results.items()} == {"10": 303, "20": 303}
    rows = reports()
    assert sorted(r.progress for r in rows) == [10, 20]
    assert all(r.item == token for r in rows)
    submissions = {urlsplit(r.headers["location"]).path.rsplit("/", 1)[1] for r in results.values()}
    assert {r.submission for r in rows} == submissions and len(submissions) == 2


@pytest.fixture
def silent_prefect() -> socket.socket:
    """A Prefect API that takes connections and never answers (a hung server), set as this
    test's Prefect server before the reply app starts (see silent_prefect_app)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)  # the kernel completes the handshakes; nothing answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield listener


@pytest.fixture
def silent_prefect_app(silent_prefect, live_app) -> str:  # noqa: F811
    return live_app


def test_a_prefect_server_that_never_answers_does_not_hold_up_replies(
    silent_prefect, silent_prefect_app, bundled, monkeypatch
) -> None:
    """Each web reply tells Prefect afterwards. With Prefect hung, as many replies as the
    app has request threads leave as many of those calls waiting: the next page is still
    answered at once, because they wait on threads of their own."""
    import followup.web.app as web_app
    from followup.web.app import request_threads

    monkeypatch.setattr(web_app, "SYNC_TIMEOUT_SECONDS", 3.0)  # then each call gives up
    monkeypatch.setattr(web_app, "SYNC_RETRIES", 0)
    person = bundled["hdir-folkehelse"]
    threads = request_threads()
    with httpx.Client(base_url=silent_prefect_app, timeout=10, follow_redirects=False) as c:
        for n in range(threads):
            post = form_data(person, {person.items[0]: {"status": "on_track", "progress": str(n)}})
            assert c.post(path_of(person.url), data=post).status_code == 303
        started = time.monotonic()
        page = c.get(path_of(person.url))
        seconds = time.monotonic() - started
    assert page.status_code == 200
    assert seconds < 1.0, f"the form took {seconds:.2f} s while Prefect calls hung"
    assert [r.progress for r in reports()] == list(range(threads))
    # Every reply did call the hung server (one connection each), so the page above was
    # answered while those calls waited.
    silent_prefect.settimeout(30)
    for _ in range(threads):
        silent_prefect.accept()[0].close()


def test_a_busy_app_keeps_its_database_connections(live_app, bundled) -> None:  # noqa: F811
    """More requests at once than the app has request threads: every one is answered and
    each is served on a connection the pool keeps open. None is opened for a request and
    closed after it, as when the threads outnumber the connections the pool keeps."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import event

    from followup.web.app import request_threads
    from models.db import get_engine

    url = bundled["hdir-folkehelse"].url
    engine = get_engine()
    assert request_threads() <= engine.pool.size()

    def burst() -> list[int]:
        with httpx.Client(timeout=20) as c, ThreadPoolExecutor(3 * request_threads()) as pool:
            return list(pool.map(lambda _: c.get(url).status_code, range(12 * request_threads())))

    opened: list[object] = []

    def on_connect(dbapi_connection, record) -> None:
        opened.append(dbapi_connection)

    engine.dispose()  # start from an empty pool and count every connection opened
    event.listen(engine, "connect", on_connect)
    try:
        assert set(burst()) == {200}
        assert set(burst()) == {200}
    finally:
        event.remove(engine, "connect", on_connect)
    assert 0 < len(opened) <= engine.pool.size()


def test_security_headers_on_every_page(client, bundled) -> None:
    person = bundled["hdir-folkehelse"]
    post = form_data(person, {person.items[0]: {"status": "on_track"}})
    redirect = client.post(path_of(person.url), data=post)
    responses = {
        "form": client.get(path_of(person.url)),
        "invalid post": client.post(path_of(person.url), data=form_data(person, {})),
        "redirect": redirect,
        "receipt": client.get(redirect.headers["location"]),
        "refused": client.get(f"/r/{bundled.round_id}/x.y"),
        "health": client.get("/healthz"),
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers["referrer-policy"] == "no-referrer", name
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, name
        assert "script-src" not in csp, name  # no script may run at all
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["cache-control"] == "no-store", name
    assert '<meta name="referrer" content="no-referrer">' in responses["form"].text


def test_lang_parameter_switches_the_words(client, bundled) -> None:
    person = bundled["hdir-folkehelse"]  # bokmål by default
    path = path_of(person.url)
    default = client.get(path).text
    assert '<html lang="nb">' in default and "Lagre og send status" in default
    english = client.get(path, params={"lang": "en"}).text
    assert '<html lang="en">' in english
    assert "Save and send status" in english and "Progress (percent, 0–100)" in english
    assert "on track" in english and "Lagre og send" not in english
    nynorsk = client.get(path, params={"lang": "nn"}).text
    assert '<html lang="nn">' in nynorsk
    assert "Framdrift (prosent, 0–100)" in nynorsk and "ikkje starta" in nynorsk
    assert client.get(path, params={"lang": "xx"}).text == default  # unknown: the person's own
    # a post in English answers in English, errors and receipt alike
    data = [("lang", "en"), ("item", person.items[0]), (f"{person.items[0]}.status", "delayed")]
    invalid = client.post(path, params={"lang": "en"}, data=fields(data))
    assert invalid.status_code == 400 and "The form has 2 errors" in invalid.text
    data += [
        (f"{person.items[0]}.expected_completion", "2021-01-15"),
        (f"{person.items[0]}.risk_note", "Late start"),
    ]
    done = client.post(path, params={"lang": "en"}, data=fields(data))
    assert done.status_code == 303 and done.headers["location"].endswith("?lang=en")
    assert "Thank you, your status is recorded" in client.get(done.headers["location"]).text
    refused = client.get(f"/r/{bundled.round_id}/x.y", params={"lang": "en"})
    assert "This link is not valid" in refused.text


def test_old_links_work_after_key_rotation(live_app, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", "old-key-" + NINE_DIGITS * 4)
    get_settings.cache_clear()
    bundled = open_bundled_round()
    person = bundled["hdir-folkehelse"]
    with httpx.Client(base_url=live_app, timeout=10) as client:
        assert client.get(path_of(person.url)).status_code == 200
        monkeypatch.setenv("FOLLOWUP_SECRET_KEY", "new-key-" + NINE_DIGITS * 4)
        get_settings.cache_clear()
        assert client.get(path_of(person.url)).status_code == 403  # old key dropped: refused
        monkeypatch.setenv("FOLLOWUP_SECRET_KEY_PREVIOUS", "old-key-" + NINE_DIGITS * 4)
        get_settings.cache_clear()
        old = client.get(path_of(person.url))
        assert old.status_code == 200 and person.name in old.text
        post = form_data(person, {person.items[0]: {"status": "on_track", "progress": "5"}})
        assert client.post(path_of(person.url), data=post, follow_redirects=True).is_success
        new_token = make_token(bundled.round_id, person.contact_id)
        assert new_token != path_of(person.url).rsplit("/", 1)[1]  # new links use the new key
        new = client.get(f"/r/{bundled.round_id}/{new_token}")
        assert new.status_code == 200 and person.name in new.text
    assert [r.progress for r in reports()] == [5]


def test_a_reply_does_not_load_prefect_when_no_server_is_configured(tmp_path) -> None:
    """sync_prefect after each web reply: without PREFECT_API_URL it must not import Prefect
    (seconds of CPU and much memory in every web worker, for nothing)."""
    code = (
        "import sys\n"
        "from followup.web.app import sync_prefect\n"
        "sync_prefect(1, 1)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'prefect'], 'imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["FOLLOWUP_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("where", ["environment", "profile", "nowhere"])
def test_a_prefect_server_is_found_where_prefect_looks_for_it(tmp_path, where) -> None:
    """The web app tells Prefect of each reply when a server is configured, whether in the
    environment or in the active profile (as ``prefect config set`` leaves it), and finds
    that out without importing Prefect."""
    code = (
        "import sys\n"
        "from followup.web.app import _prefect_configured\n"
        "print(_prefect_configured())\n"
        "assert 'prefect' not in sys.modules, 'imported'\n"
    )
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "team"\n\n[profiles.local]\n\n'
        '[profiles.team]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(FOLLOWUP_DATA_DIR=str(tmp_path), PREFECT_HOME=str(home))
    if where == "environment":
        env.update(PREFECT_API_URL="http://127.0.0.1:4200/api", PREFECT_PROFILE="local")
    elif where == "nowhere":
        env["PREFECT_PROFILE"] = "local"  # a profile without a server: Prefect's own mode
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(where != "nowhere")


def test_served_sockets_are_tcp_so_connections_get_nodelay() -> None:
    """uvicorn --workers binds its socket without naming TCP, and asyncio then leaves Nagle
    on: ~40 ms per keep-alive response (Kludex/uvicorn#3149). followup.web.serve does not."""
    from followup.web.serve import listening_socket

    listener = listening_socket("127.0.0.1", 0, reuse_port=True)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        listener.listen()

        async def nodelay_of_an_accepted_connection() -> int:
            """What asyncio (and so uvicorn) sets on a connection accepted on this socket."""
            got = asyncio.get_running_loop().create_future()

            async def on_connect(reader, writer):
                sock = writer.get_extra_info("socket")
                got.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                writer.close()

            server = await asyncio.start_server(on_connect, sock=listener)
            _, writer = await asyncio.open_connection(*listener.getsockname())
            try:
                return await asyncio.wait_for(got, 10)
            finally:
                writer.close()
                server.close()

        assert asyncio.run(nodelay_of_an_accepted_connection()) != 0  # Nagle is off
    finally:
        listener.close()


def test_served_by_two_workers_and_stopped_by_sigterm(settings_env) -> None:
    """followup.web.serve with two worker processes (one socket each, SO_REUSEPORT): both
    answer, and SIGTERM stops the lot."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "followup.web.serve", "--port", str(port), "--workers", "2"],
        env=dict(os.environ),
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        for _ in range(20):  # a new connection each time: the kernel spreads them
            with httpx.Client(timeout=5) as c:
                assert c.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        workers = [pid for pid in child_pids(process.pid) if "spawn_main" in cmdline(pid)]
        assert len(workers) == 2
        deadline = time.monotonic() + 15
        while not all(listens_on(pid, port) for pid in workers):  # each its own socket
            assert time.monotonic() < deadline, "a worker never listened on the port"
            time.sleep(0.05)  # poll interval
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def child_pids(parent: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def listens_on(pid: int, port: int) -> bool:
    """Whether one of the process's own sockets is a TCP listener on ``port``."""
    inodes = {
        os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
        for fd in os.listdir(f"/proc/{pid}/fd")
        if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
    }
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port and inode in inodes:
            return True
    return False
