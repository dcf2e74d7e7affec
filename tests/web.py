"""The reply web app as a real server for tests, and reply links taken from real invitations.

``live_app`` serves ``followup.web.app.create_app()`` with uvicorn in a background thread on
a free loopback port, on the test's database (through ``settings_env``), and points
FOLLOWUP_PUBLIC_URL at it so the links in invitation messages lead to it.
``open_bundled_round()`` imports the bundled plan, opens a round, sends the invitations (to
the outbox) and returns each person's link as the message holds it."""

import contextvars
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser

import httpx
import pytest
import uvicorn
from sqlmodel import select

from models.db import session_scope
from models.importer import import_path
from models.plan import Contact, Plan
from models.reminders import load_context
from models.rounds import open_round, scope_of
from models.settings import get_settings
from notifications.delivery import deliver
from notifications.dispatch import pending_deliveries
from notifications.outbox import read_outbox
from notifications.round_messages import compose_invitations
from tests.conftest import BUNDLED_PLAN
from tests.servers import free_port

LINK = re.compile(r"https?://\S+/r/\d+/[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class Invitee:
    """A person asked in a round, with the link from their invitation message."""

    key: str
    name: str
    email: str
    contact_id: int
    language: str
    url: str  # as written in the message
    items: tuple[str, ...]  # ItemRef tokens in the round's scope, in form order
    subject: str


@dataclass(frozen=True)
class BundledRound:
    round_id: int
    people: dict[str, Invitee]  # by contact key and by e-mail address

    def __getitem__(self, key_or_email: str) -> Invitee:
        return self.people[key_or_email]


def start_server(port: int) -> tuple[uvicorn.Server, threading.Thread]:
    """The reply app under uvicorn in a daemon thread (no signal handlers off the main thread)."""
    from followup.web.app import create_app

    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    # In a copy of the caller's context: the app's background work (sync_prefect) sees the
    # caller's Prefect settings (a new thread would start with an empty context).
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(server.run,), name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    return server, thread


def wait_healthy(base_url: str, seconds: float = 15.0) -> None:
    """Poll /healthz until it answers 200, or fail when the deadline passes."""
    deadline = time.monotonic() + seconds
    last: object = None
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(f"{base_url}/healthz")
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as exc:
                last = exc
            time.sleep(0.02)  # a poll interval, not a wait for something to happen
    pytest.fail(f"the reply app at {base_url} did not become healthy in {seconds} s: {last}")


@pytest.fixture
def live_app(settings_env, monkeypatch) -> Iterator[str]:
    """The reply app served on a free loopback port; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("FOLLOWUP_PUBLIC_URL", base_url)
    get_settings.cache_clear()
    server, thread = start_server(port)
    try:
        wait_healthy(base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "the reply app did not stop within 10 s"


def import_bundled_plan() -> None:
    with session_scope() as session:
        import_path(session, str(BUNDLED_PLAN))


def open_bundled_round(
    label: str = "2. tertial 2020",
    as_of: date = date(2020, 8, 31),
    deadline: date = date(2020, 9, 15),
    import_plan: bool = True,
) -> BundledRound:
    """Open a round on the bundled plan, send its invitations to the outbox, and return each
    person's link as their message holds it (keyed by contact key and by e-mail address)."""
    if import_plan:
        import_bundled_plan()
    with session_scope() as session:
        plan = session.exec(select(Plan)).one()
        rnd = open_round(session, label=label, as_of=as_of, deadline=deadline)
        compose_invitations(session, load_context(session, plan), rnd)
        round_id = rnd.id
        contacts = session.exec(select(Contact).where(Contact.plan_id == plan.id)).all()
        scope: dict[int, list[str]] = {}
        for row in scope_of(session, round_id):
            scope.setdefault(row.contact_id, []).append(row.item)
    settings = get_settings()
    deliver(pending_deliveries(), settings)
    by_email = {address: c for c in contacts for address in c.channels}
    people: dict[str, Invitee] = {}
    for message in read_outbox(settings.outbox_dir):
        links = [u for u in LINK.findall(message.text) if f"/r/{round_id}/" in u]
        if not links:
            continue  # a message of another round
        assert len(set(links)) == 1, f"one link per invitation, found {links}"
        contact = by_email[message.to]
        invitee = Invitee(
            key=contact.key,
            name=contact.name,
            email=message.to,
            contact_id=contact.id,
            language=contact.language.value,
            url=links[0],
            items=tuple(scope[contact.id]),
            subject=message.subject,
        )
        people[contact.key] = people[message.to] = invitee
    assert {p.contact_id for p in people.values()} == set(scope), "an invitation is missing"
    return BundledRound(round_id, people)


class FormReader(HTMLParser):
    """What a browser would send from the reply form as served: the items, each field's value
    (checked radios, inputs, textareas), the error summary's links and the ids in use."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[str] = []
        self.values: dict[str, str] = {}
        self.ids: dict[str, dict[str, str]] = {}
        self.summary_links: list[str] = []
        self._textarea: str | None = None
        self._in_summary = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        if a.get("id") == "error-summary":
            self._in_summary = 1
        elif self._in_summary and tag == "div":
            self._in_summary += 1
        if self._in_summary and tag == "a":
            self.summary_links.append(a.get("href", ""))
        if tag == "input" and a.get("name"):
            if a["name"] == "item":
                self.items.append(a["value"])
            elif a.get("type") == "radio":
                if "checked" in a:
                    self.values[a["name"]] = a["value"]
            else:
                self.values[a["name"]] = a.get("value", "")
        if tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        if self._in_summary and tag == "div":
            self._in_summary -= 1

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def read_form(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    reader.close()
    return reader
