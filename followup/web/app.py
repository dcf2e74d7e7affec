"""The reply web app: a person opens their link, sees their items with the last reported
status, and sends a status for each; no account, no JavaScript.

Links carry a signed token for one round and one contact. A forged or altered token, or one
for another round, gets 403; a closed round 410; nothing is written in either case.

Each page asks the database only about the person behind the link: one query for the round,
the person and the plan's title, one per kind of item for their items with each one's latest
report (never the whole plan), and the write itself. The round's scope (who reports on
what) is written once when the round opens and never changes, so each worker keeps it."""

import logging
import os
import sys
import threading
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import PackageLoader, StrictUndefined
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException

from followup.web.strings import WEB
from models.db import get_engine, read_scope, session_scope
from models.items import ItemKind
from models.plan import Contact, Plan
from models.replies import (
    FIELDS,
    FieldError,
    ItemReply,
    ScopeItem,
    items_with_latest,
    record_reply,
    submission_rows,
    validate_item,
)
from models.reporting import ReplyChannel, ReportingRound, RoundState
from models.rounds import coordinator_of, scope_of
from models.settings import get_settings
from models.status import LABELS, Status, status_label
from models.tokens import BadToken, ReplyToken, public_path, read_token
from notifications.render import KeysFirst, date_full

log = logging.getLogger("followup.web")
LANGUAGES = [("nb", "Bokmål"), ("nn", "Nynorsk"), ("en", "English")]
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
# A form of forty items with every text at its limit, each character percent-encoded, is
# about 3.6 MB; a bigger body is refused before it is read (it could only be an attack).
MAX_BODY_BYTES = 4 * 1024 * 1024
RECEIPT_TEXT_LIMIT = 160  # characters of "what was done" and "next steps" on the receipt
SCOPE_CACHE_SIZE = 20_000  # (round, person) pairs a worker remembers
# Request threads per worker process, by database; see request_threads.
REQUEST_THREADS = {"postgresql": 2, "sqlite": 8}
PREFECT_SYNC_THREADS = 4  # per worker process, apart from the request threads

templates = KeysFirst(
    loader=PackageLoader("followup.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates ship with the code: no stat() of the files per page
)


class Refused(Exception):
    """Ends a request with a page saying why (403, 404 or 410)."""

    def __init__(self, status: int, heading: str, text: str, language: str):
        self.status, self.heading, self.text, self.language = status, heading, text, language


@dataclass(frozen=True)
class RoundView:
    """The round as a page needs it: what validate_item and record_reply read of a
    ReportingRound, without building an ORM object on every page."""

    id: int
    plan_id: int
    label: str
    as_of: date
    deadline: date
    state: RoundState


@dataclass
class Visit:
    """Who opened a link, for which round, and in which language the page is."""

    rnd: RoundView
    contact_id: int
    contact_name: str
    plan_title: str
    language: str


class ScopeCache:
    """Each person's items in a round (ItemRef tokens, in form order), remembered per worker.

    A round's RoundItem rows are written when it opens and never changed afterwards, so
    what was read once stays true for the round's life. Bounded (least recently used out);
    a person with no items is not remembered. Per app instance, so that an app made for
    another database never sees another database's scope."""

    def __init__(self, size: int = SCOPE_CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple[int, int], tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session, round_id: int, contact_id: int) -> tuple[str, ...]:
        key = (round_id, contact_id)
        with self._lock:
            scope = self._items.get(key)
            if scope is not None:
                self._items.move_to_end(key)
                return scope
        scope = tuple(r.item for r in scope_of(session, round_id, contact_id))
        if scope:
            with self._lock:
                self._items[key] = scope
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return scope


def request_threads() -> int:
    """Request threads per worker process.

    A request runs in a worker thread and holds one pooled connection: never more threads
    than the connections the pool keeps open (more would queue for the pool, or open and
    close an overflow connection on almost every request). On PostgreSQL a request waits
    for the server only briefly and the rest is Python, so two threads keep a worker busy;
    more only contend for the GIL and lengthen the slowest replies (bench/replies.py, 50
    owners at saturation: 2 threads served ~20% more than 8, p95 about 105 ms against
    160). On SQLite a writer may wait seconds for the database's one write lock, so more
    threads keep pages answering meanwhile. Other requests wait in the event loop."""
    engine = get_engine()
    wanted = REQUEST_THREADS.get(engine.dialect.name, max(REQUEST_THREADS.values()))
    return max(1, min(wanted, engine.pool.size()))


def pick_language(request: Request, fallback: str) -> str:
    asked = request.query_params.get("lang")
    return asked if asked in WEB else fallback


def page(name: str, status: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status)


def item_label(kind: ItemKind, number: int | None, key: str | None, t: dict) -> str:
    return (
        t["measure"].format(number=number)
        if kind == ItemKind.MEASURE
        else f"{t['assignment']} {key}"
    )


def shorten(text: str | None, limit: int = RECEIPT_TEXT_LIMIT) -> tuple[str | None, bool]:
    """The text cut at a word boundary to about ``limit`` characters; whether it was cut."""
    if not text:
        return None, False
    text = " ".join(text.split())
    if len(text) <= limit:
        return text, False
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,.;:") + " …", True


def message_refusal(request: Request, status: int, key: str) -> Refused:
    """A Refused with the page ``key`` (its ``{key}_title`` and ``{key}_text``), in the
    language the address asks for."""
    language = pick_language(request, "nb")
    t = WEB[language]
    return Refused(status, t[f"{key}_title"], t[f"{key}_text"], language)


def check_token(round_id: int, token: str, request: Request) -> ReplyToken:
    """The link's signed claim, if it is for this round, or Refused (403). No database: a
    forged link is turned away before anything else is read, its request body included."""
    try:
        claim = read_token(token)
    except BadToken:
        raise message_refusal(request, 403, "forbidden") from None
    if claim.round_id != round_id:
        raise message_refusal(request, 403, "forbidden")
    return claim


def load_request(
    session,
    round_id: int,
    token: str,
    request: Request,
    *,
    for_writing: bool = False,
    claim: ReplyToken | None = None,
) -> Visit:
    """The round and the contact a link is for (one query), or Refused.

    ``for_writing`` takes a share lock on the round's row until the transaction ends:
    replies may be written side by side, but closing the round waits for them, so no reply
    is recorded in a round that was closed after it was checked. ``claim``: the token
    already checked (check_token), so that it is not verified twice."""
    claim = claim or check_token(round_id, token, request)
    found = (
        session.connection()
        .execute(_visit_query(for_writing), {"round_id": round_id, "contact_id": claim.contact_id})
        .first()
    )
    if found is None:  # no such round, or a person not of its plan
        raise message_refusal(request, 403, "forbidden")
    *round_fields, name, contact_language, plan_title = found
    rnd = RoundView(*round_fields)
    language = pick_language(request, contact_language.value)
    t = WEB[language]
    if rnd.state != RoundState.OPEN:
        coordinator = coordinator_of(session, rnd.plan_id)
        raise Refused(
            410,
            t["gone_title"],
            t["gone_text"].format(
                label=rnd.label, coordinator=coordinator.name if coordinator else "–"
            ),
            language,
        )
    return Visit(rnd, claim.contact_id, name, plan_title, language)


_ROUND_FIELDS = ("id", "plan_id", "label", "as_of", "deadline", "state")


@lru_cache
def _visit_query(for_writing: bool):
    """Built once per kind (the statement is the same on every page, only the ids differ)."""
    query = (
        sa_select(
            *(getattr(ReportingRound, name) for name in _ROUND_FIELDS),
            Contact.name,
            Contact.language,
            Plan.title,
        )
        .join(Plan, Plan.id == ReportingRound.plan_id)
        .join(
            Contact,
            (Contact.id == bindparam("contact_id")) & (Contact.plan_id == ReportingRound.plan_id),
        )
        .where(ReportingRound.id == bindparam("round_id"))
    )
    return query.with_for_update(read=True, of=ReportingRound) if for_writing else query


def form_items(
    items: dict[str, ScopeItem],
    scope: tuple[str, ...],
    language: str,
    values: dict | None = None,
    errors: dict | None = None,
) -> list[dict]:
    t = WEB[language]
    oslo = ZoneInfo(get_settings().timezone)
    out = []
    for token in scope:
        item = items.get(token)
        if item is None:
            continue  # left the plan since the round opened: nothing to report on
        last = item.latest
        prefilled = {name: "" for name in FIELDS}
        if last is not None:
            prefilled.update(
                status=last.status,
                progress="" if last.progress is None else str(last.progress),
                done=last.done or "",
                next_steps=last.next_steps or "",
                expected_completion=last.expected_completion.isoformat()
                if last.expected_completion
                else "",
                risk_note=last.risk_note or "",
            )
        out.append(
            dict(
                token=token,
                label=item_label(item.kind, item.number, item.key, t),
                title=item.title,
                deadline=date_full(item.deadline, language) if item.deadline else None,
                last=dict(
                    status=status_label(last.status, language),
                    when=last.submitted_at.astimezone(oslo).strftime("%Y-%m-%d %H:%M"),
                )
                if last
                else None,
                entered=(values or {}).get(token, prefilled),
                errors=(errors or {}).get(token, {}),
            )
        )
    return out


def render_form(visit: Visit, language: str, listed: list[dict], status=200, summary=None):
    t = WEB[language]
    rnd = visit.rnd
    return page(
        "form.html.j2",
        status,
        language=language,
        t=t,
        languages=LANGUAGES,
        page_title=(f"{t['errors_title'].format(n=len(summary))} – " if summary else "")
        + t["title"].format(label=rnd.label),
        plan_title=visit.plan_title,
        round_label=rnd.label,
        contact_name=visit.contact_name,
        as_of=date_full(rnd.as_of, language),
        deadline=date_full(rnd.deadline, language),
        statuses=[(s.value, LABELS[language][s]) for s in Status],
        items=listed,
        errors=summary or [],
    )


class BodyTooLarge(Exception):
    """A request body over MAX_BODY_BYTES (see BodyLimit)."""


class BodyLimit:
    """Refuses a request body over MAX_BODY_BYTES when the app reads it (so its pages are
    answered first, and a forged link's body is never read): at once when Content-Length
    says so, else as soon as the bytes received pass the limit, before the rest arrives."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        received = 0

        async def receive_within_limit():
            nonlocal received
            if not length.isdigit() or int(length) > self.limit:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, receive_within_limit, send)


class SecurityHeaders:
    """Adds HEADERS to every response (plain ASGI: no extra task per request)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app() -> FastAPI:
    scopes = ScopeCache()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = request_threads()
        # Telling Prefect runs on threads of its own: a slow Prefect server must not take
        # the threads that answer owners.
        app.state.prefect_sync = anyio.CapacityLimiter(PREFECT_SYNC_THREADS)
        yield

    app = FastAPI(
        title="followup replies",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )

    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, BodyLimit's included

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> HTMLResponse:
        return page(
            "message.html.j2",
            exc.status,
            language=exc.language,
            page_title=exc.heading,
            plan_title="",
            heading=exc.heading,
            text=exc.text,
        )

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge) -> HTMLResponse:
        return await refused(request, message_refusal(request, 413, "too_large"))

    @app.exception_handler(HTTPException)
    async def not_a_page(request: Request, exc: HTTPException) -> HTMLResponse:
        """An address or method the app does not have: a page saying so, not JSON."""
        return await refused(request, message_refusal(request, exc.status_code, "not_found"))

    @app.exception_handler(RequestValidationError)
    async def not_a_link(request: Request, exc: RequestValidationError) -> HTMLResponse:
        """A link whose round is not a number: not one of ours."""
        return await refused(request, message_refusal(request, 404, "not_found"))

    @app.get("/healthz")
    def healthz() -> dict:
        with session_scope() as session:
            session.exec(select(Plan.id).limit(1)).all()
        return {"ok": True}

    @app.api_route("/r/{round_id}/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def show_form(round_id: int, token: str, request: Request) -> HTMLResponse:
        with read_scope() as session:
            visit = load_request(session, round_id, token, request)
            scope = scopes.get(session, round_id, visit.contact_id)
            items = items_with_latest(session, scope)
        listed = form_items(items, scope, visit.language)
        return render_form(visit, visit.language, listed)

    @app.post("/r/{round_id}/{token}", response_class=HTMLResponse)
    async def submit(
        round_id: int, token: str, request: Request, background: BackgroundTasks
    ) -> Response:
        claim = check_token(round_id, token, request)  # before reading the body
        try:
            form = await request.form()
            # Text fields only: a file part (no browser sends one here) counts as not sent.
            pairs = [(n, v) for n, v in form.multi_items() if isinstance(v, str)]
        except HTTPException:  # a body that is no form (bad multipart): as if nothing was sent
            pairs = []
        posted: dict[str, dict[str, str]] = {}
        for name, value in pairs:
            token_part, _, field = name.rpartition(".")
            if token_part and field in FIELDS:
                posted.setdefault(token_part, {})[field] = value
        for name, value in pairs:
            if name == "item":
                posted.setdefault(value, {})
        language_override = next((v for n, v in pairs if n == "lang"), None)
        return await run_in_threadpool(
            _submit, round_id, token, claim, request, posted, language_override, background
        )

    def _submit(round_id, token, claim, request, posted, language_override, background) -> Response:
        with session_scope() as session:
            visit = load_request(session, round_id, token, request, for_writing=True, claim=claim)
            language = language_override if language_override in WEB else visit.language
            t = WEB[language]
            scope = scopes.get(session, round_id, visit.contact_id)
            if set(posted) - set(scope):
                raise Refused(403, t["forbidden_title"], t["not_yours"], language)
            replies: list[ItemReply] = []
            problems_of: dict[str, list[FieldError]] = {}
            for tok in scope:
                raw = posted.get(tok)
                if raw is None or not any((v or "").strip() for v in raw.values()):
                    continue
                reply, problems = validate_item(tok, raw, visit.rnd)
                if reply:
                    replies.append(reply)
                if problems:
                    problems_of[tok] = problems
            if replies and not problems_of:
                submission = record_reply(
                    session,
                    visit.rnd,
                    visit.contact_id,
                    replies,
                    channel=ReplyChannel.WEB,
                    entered_by=visit.contact_name,
                    scope=scope,
                )
            else:
                submission = None
                items = items_with_latest(session, scope)  # for the form shown again
        if submission is not None:
            background.add_task(
                anyio.to_thread.run_sync,
                sync_prefect,
                round_id,
                visit.contact_id,
                limiter=request.app.state.prefect_sync,
            )
            return RedirectResponse(
                public_path(f"/r/{round_id}/{token}/receipt/{submission}?lang={language}"),
                status_code=303,
            )
        return _form_again(visit, language, items, scope, posted, problems_of)

    def _form_again(visit, language, items, scope, posted, problems_of) -> HTMLResponse:
        """The form once more (400), with what was typed, each error at its field and all
        of them listed at the top, linked to their fields."""
        t = WEB[language]
        shown = [tok for tok in scope if tok in items]
        errors: dict[str, dict[str, str]] = {}
        summary = []
        labels = {
            tok: item_label(items[tok].kind, items[tok].number, items[tok].key, t) for tok in shown
        }
        for index, tok in enumerate(shown, start=1):
            for p in problems_of.get(tok, []):
                message = _message(p, t, language)
                errors.setdefault(tok, {})[p.field] = message
                summary.append(
                    dict(
                        field_id=f"i{index}-{p.field}",
                        label=f"{labels[tok]}, {t[p.field]}",
                        message=message,
                    )
                )
        if not summary and shown:
            # Nothing filled in at all: the error belongs to the first status asked for
            # (the first item the post named, else the first on the form).
            first = next((tok for tok in shown if tok in posted), shown[0])
            errors[first] = {"status": t["nothing"]}
            summary.append(
                dict(
                    field_id=f"i{shown.index(first) + 1}-status",
                    label=t["status"],
                    message=t["nothing"],
                )
            )
        values = {
            tok: {name: posted.get(tok, {}).get(name, "") for name in FIELDS} for tok in shown
        }
        listed = form_items(items, scope, language, values, errors)
        return render_form(visit, language, listed, 400, summary)

    @app.api_route(
        "/r/{round_id}/{token}/receipt/{submission}",
        methods=["GET", "HEAD"],
        response_class=HTMLResponse,
    )
    def receipt(round_id: int, token: str, submission: str, request: Request) -> HTMLResponse:
        with read_scope() as session:
            visit = load_request(session, round_id, token, request)
            recorded = submission_rows(session, round_id, visit.contact_id, submission)
        language = visit.language
        t = WEB[language]
        if not recorded:
            raise Refused(404, t["forbidden_title"], t["forbidden_text"], language)
        oslo = ZoneInfo(get_settings().timezone)
        when = recorded[0].report.submitted_at.astimezone(oslo).strftime("%Y-%m-%d %H:%M")
        rows = []
        for r in recorded:
            done, done_cut = shorten(r.report.done)
            next_steps, next_cut = shorten(r.report.next_steps)
            risk_note, risk_cut = shorten(r.report.risk_note)
            expected = r.report.expected_completion
            rows.append(
                dict(
                    label=item_label(r.kind, r.number, r.key, t),
                    title=r.title or "",
                    status=status_label(r.report.status, language),
                    progress=r.report.progress,
                    expected=date_full(expected, language) if expected else None,
                    done=done,
                    next_steps=next_steps,
                    risk_note=risk_note,
                    shortened=done_cut or next_cut or risk_cut,
                )
            )
        return page(
            "receipt.html.j2",
            language=language,
            t=t,
            page_title=t["receipt_title"],
            plan_title=visit.plan_title,
            round_label=visit.rnd.label,
            when=when,
            reference=submission[:12],
            form_url=public_path(f"/r/{round_id}/{token}?lang={language}"),
            rows=rows,
            shortened=any(row["shortened"] for row in rows),
        )

    return app


def _message(problem: FieldError, t: dict, language: str) -> str:
    params = {
        k: (date_full(v, language) if hasattr(v, "isoformat") else v)
        for k, v in problem.params.items()
    }
    return t[problem.code].format(**params)


def _prefect_configured() -> bool:
    """Whether a Prefect server is configured, without importing Prefect when it cannot be.

    Importing Prefect costs seconds and much memory in a web worker, so the places where
    Prefect is usually told its server are read first: the environment and the active
    profile (what ``prefect config set PREFECT_API_URL=...`` writes). A test harness may
    also set it in-process once Prefect is loaded."""
    if os.environ.get("PREFECT_API_URL") or _profile_api_url():
        return True
    if "prefect.settings" not in sys.modules:
        return False
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


@lru_cache(maxsize=1)
def _profile_api_url() -> str | None:
    """PREFECT_API_URL of the active Prefect profile, read as Prefect finds it:
    PREFECT_PROFILES_PATH, else PREFECT_HOME/profiles.toml (default ~/.prefect); the profile
    named by PREFECT_PROFILE, else the file's ``active`` one. Read once per process, as
    Prefect reads its settings, not on every reply."""
    import tomllib
    from pathlib import Path

    path = os.environ.get("PREFECT_PROFILES_PATH") or str(
        Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect") / "profiles.toml"
    )
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active")
    profile = data.get("profiles", {}).get(active, {}) if isinstance(active, str) else {}
    url = profile.get("PREFECT_API_URL") if isinstance(profile, dict) else None
    return url if isinstance(url, str) and url else None


SYNC_TIMEOUT_SECONDS = 5.0
# Prefect's client retries only what the server says is passing (503 when its own
# database is busy, 502, 429, a timeout), backing off 2 s, then 4 s.
SYNC_RETRIES = 2


def sync_prefect(round_id: int, contact_id: int) -> None:
    """After a web reply: resume the person's waiting run and refresh the round's artifacts.

    Best effort: when Prefect is down the reply is already safe in the database, and
    `reconcile-reply-runs` catches up later."""
    if not _prefect_configured():
        return  # no Prefect server configured (e.g. the demo): nothing to tell
    try:
        from prefect.settings import (
            PREFECT_API_REQUEST_TIMEOUT,
            PREFECT_CLIENT_MAX_RETRIES,
            temporary_settings,
        )

        from flows.round_artifacts import refresh_round_artifacts
        from flows.rounds import resume_waiting_run
        from models.reporting import RoundContact

        with session_scope() as session:
            rc = session.exec(
                select(RoundContact).where(
                    RoundContact.round_id == round_id, RoundContact.contact_id == contact_id
                )
            ).first()
            run_id = rc.flow_run_id if rc and not rc.run_resolved else None
        # A server that takes connections but never answers must not hold a request thread
        # for minutes (Prefect's defaults: 60 s per request, 5 retries); a moment's 503 is
        # retried, not left to the next reconcile-reply-runs (seen: its SQLite was locked).
        with temporary_settings(
            updates={
                PREFECT_API_REQUEST_TIMEOUT: SYNC_TIMEOUT_SECONDS,
                PREFECT_CLIENT_MAX_RETRIES: SYNC_RETRIES,
            }
        ):
            if run_id:
                resume_waiting_run(run_id, "web")
                with session_scope() as session:
                    session.exec(
                        select(RoundContact).where(RoundContact.id == rc.id)
                    ).one().run_resolved = True
            refresh_round_artifacts(round_id)
    except Exception as exc:  # Prefect unreachable: reconciled later
        log.warning("Prefect not updated after a reply (round %s): %s", round_id, exc)
