"""The reply web app: a person opens their link, sees their items with the last reported
status, and sends a status for each; no account, no JavaScript.

Links carry a signed token for one round and one contact. A forged or altered token, or one
for another round, gets 403; a closed round 410; nothing is written in either case."""

import logging
from zoneinfo import ZoneInfo

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlmodel import select

from followup.web.strings import WEB
from models.db import session_scope
from models.items import ItemKind, ItemRef, load_items
from models.plan import Contact, Plan
from models.replies import (
    FIELDS,
    FieldError,
    ItemReply,
    latest_in_round,
    record_reply,
    validate_item,
)
from models.reporting import ReplyChannel, ReportingRound, RoundState, StatusReport
from models.rounds import coordinator_of, scope_of
from models.settings import get_settings
from models.status import LABELS, Status, status_label
from models.tokens import BadToken, read_token
from notifications.render import date_full

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

templates = Environment(
    loader=PackageLoader("followup.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class Refused(Exception):
    """Ends a request with a page saying why (403, 404 or 410)."""

    def __init__(self, status: int, heading: str, text: str, language: str):
        self.status, self.heading, self.text, self.language = status, heading, text, language


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


def load_request(session, round_id: int, token: str, request: Request):
    """The round and the contact a link is for, or Refused."""
    language = pick_language(request, "nb")
    t = WEB[language]
    try:
        claim = read_token(token)
    except BadToken:
        raise Refused(403, t["forbidden_title"], t["forbidden_text"], language) from None
    rnd = session.get(ReportingRound, round_id)
    if claim.round_id != round_id or rnd is None:
        raise Refused(403, t["forbidden_title"], t["forbidden_text"], language)
    contact = session.get(Contact, claim.contact_id)
    if contact is None or contact.plan_id != rnd.plan_id:
        raise Refused(403, t["forbidden_title"], t["forbidden_text"], language)
    language = pick_language(request, contact.language.value)
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
    return rnd, contact, language


def form_items(
    session,
    rnd: ReportingRound,
    contact: Contact,
    language: str,
    values: dict | None = None,
    errors: dict | None = None,
) -> list[dict]:
    t = WEB[language]
    scope = [r.item for r in scope_of(session, rnd.id, contact.id)]
    by_token = {i.ref.token: i for i in load_items(session, rnd.plan_id)}
    latest = latest_in_round(session, rnd, contact.id)
    oslo = ZoneInfo(get_settings().timezone)
    out = []
    for token in scope:
        item = by_token[token]
        last = latest.get(token)
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
                label=item_label(item.ref.kind, item.number, item.key, t),
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


def render_form(
    session, rnd, contact, language, status=200, values=None, errors=None, summary=None
) -> HTMLResponse:
    t = WEB[language]
    plan = session.get(Plan, rnd.plan_id)
    return page(
        "form.html.j2",
        status,
        language=language,
        t=t,
        languages=LANGUAGES,
        page_title=(f"{t['errors_title'].format(n=len(summary))} – " if summary else "")
        + t["title"].format(label=rnd.label),
        plan_title=plan.title,
        round_label=rnd.label,
        contact_name=contact.name,
        as_of=date_full(rnd.as_of, language),
        deadline=date_full(rnd.deadline, language),
        statuses=[(s.value, LABELS[language][s]) for s in Status],
        items=form_items(session, rnd, contact, language, values, errors),
        errors=summary or [],
    )


def create_app() -> FastAPI:
    app = FastAPI(title="followup replies", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        response.headers.update(HEADERS)
        return response

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

    @app.get("/healthz")
    def healthz() -> dict:
        with session_scope() as session:
            session.exec(select(Plan.id).limit(1)).all()
        return {"ok": True}

    @app.get("/r/{round_id}/{token}", response_class=HTMLResponse)
    def show_form(round_id: int, token: str, request: Request) -> HTMLResponse:
        with session_scope() as session:
            rnd, contact, language = load_request(session, round_id, token, request)
            return render_form(session, rnd, contact, language)

    @app.post("/r/{round_id}/{token}", response_class=HTMLResponse)
    async def submit(
        round_id: int, token: str, request: Request, background: BackgroundTasks
    ) -> Response:
        form = await request.form()
        posted: dict[str, dict[str, str]] = {}
        for name, value in form.multi_items():
            token_part, _, field = name.rpartition(".")
            if token_part and field in FIELDS:
                posted.setdefault(token_part, {})[field] = str(value)
        for item in form.getlist("item"):
            posted.setdefault(str(item), {})
        language_override = form.get("lang")
        return await _run_sync(
            lambda: _submit(round_id, token, request, posted, language_override, background)
        )

    def _submit(round_id, token, request, posted, language_override, background) -> Response:
        with session_scope() as session:
            rnd, contact, language = load_request(session, round_id, token, request)
            if language_override in WEB:
                language = language_override
            t = WEB[language]
            mine = {r.item for r in scope_of(session, rnd.id, contact.id)}
            if set(posted) - mine:
                raise Refused(403, t["forbidden_title"], t["not_yours"], language)
            replies: list[ItemReply] = []
            errors: dict[str, dict[str, str]] = {}
            summary = []
            items = {i["token"]: i for i in form_items(session, rnd, contact, language)}
            order = [tok for tok in items if tok in posted]
            for index, tok in enumerate(items, start=1):
                if tok not in posted:
                    continue
                raw = posted[tok]
                if not any((v or "").strip() for v in raw.values()):
                    continue
                reply, problems = validate_item(tok, raw, rnd)
                if reply:
                    replies.append(reply)
                for p in problems:
                    message = _message(p, t, language)
                    errors.setdefault(tok, {})[p.field] = message
                    summary.append(
                        dict(
                            field_id=f"i{index}-{p.field}",
                            label=f"{items[tok]['label']}, {t[p.field]}",
                            message=message,
                        )
                    )
            if not replies and not summary:
                first = list(items).index(order[0]) + 1 if order else 1
                summary.append(
                    dict(field_id=f"i{first}-status", label=t["status"], message=t["nothing"])
                )
            if summary:
                values = {
                    tok: {name: posted.get(tok, {}).get(name, "") for name in FIELDS}
                    for tok in items
                }
                return render_form(session, rnd, contact, language, 400, values, errors, summary)
            rows = record_reply(
                session, rnd, contact.id, replies, channel=ReplyChannel.WEB, entered_by=contact.name
            )
            submission = rows[0].submission
        background.add_task(sync_prefect, round_id, contact.id)
        return RedirectResponse(
            f"/r/{round_id}/{token}/receipt/{submission}?lang={language}", status_code=303
        )

    @app.get("/r/{round_id}/{token}/receipt/{submission}", response_class=HTMLResponse)
    def receipt(round_id: int, token: str, submission: str, request: Request) -> HTMLResponse:
        with session_scope() as session:
            rnd, contact, language = load_request(session, round_id, token, request)
            t = WEB[language]
            rows = session.exec(
                select(StatusReport)
                .where(
                    StatusReport.submission == submission,
                    StatusReport.round_id == rnd.id,
                    StatusReport.contact_id == contact.id,
                )
                .order_by(StatusReport.id)
            ).all()
            if not rows:
                raise Refused(404, t["forbidden_title"], t["forbidden_text"], language)
            by_token = {i.ref.token: i for i in load_items(session, rnd.plan_id)}
            oslo = ZoneInfo(get_settings().timezone)
            when = rows[0].submitted_at.astimezone(oslo).strftime("%Y-%m-%d %H:%M")
            plan = session.get(Plan, rnd.plan_id)
            return page(
                "receipt.html.j2",
                language=language,
                t=t,
                page_title=t["receipt_title"],
                plan_title=plan.title,
                round_label=rnd.label,
                when=when,
                reference=submission[:12],
                form_url=f"/r/{round_id}/{token}?lang={language}",
                rows=[
                    dict(
                        label=item_label(
                            ItemRef.parse(r.item).kind,
                            by_token[r.item].number,
                            by_token[r.item].key,
                            t,
                        ),
                        title=by_token[r.item].title,
                        status=status_label(r.status, language),
                        progress=r.progress,
                    )
                    for r in rows
                ],
            )

    return app


async def _run_sync(fn):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn)


def _message(problem: FieldError, t: dict, language: str) -> str:
    params = {
        k: (date_full(v, language) if hasattr(v, "isoformat") else v)
        for k, v in problem.params.items()
    }
    return t[problem.code].format(**params)


def sync_prefect(round_id: int, contact_id: int) -> None:
    """After a web reply: resume the person's waiting run and refresh the round's artifacts.

    Best effort: when Prefect is down the reply is already safe in the database, and
    `reconcile-reply-runs` catches up later."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return  # no Prefect server configured (e.g. the demo): nothing to tell
    try:
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
        if run_id:
            resume_waiting_run(run_id, "web")
            with session_scope() as session:
                session.exec(
                    select(RoundContact).where(RoundContact.id == rc.id)
                ).one().run_resolved = True
        refresh_round_artifacts(round_id)
    except Exception as exc:  # Prefect unreachable: reconciled later
        log.warning("Prefect not updated after a reply (round %s): %s", round_id, exc)
