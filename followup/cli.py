"""The ``followup`` command: what coordinators and operators type."""

import functools
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from followup.errors import describe
from followup.overview_view import render_overview
from models.calendar import today
from models.db import get_engine, session_scope
from models.settings import get_settings

app = typer.Typer(
    help="Follow up a government action plan: plans, deadlines, reminders, replies, summaries.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema (migrations).", no_args_is_help=True)
plan_app = typer.Typer(help="Look at the plans in the database.", no_args_is_help=True)
reminders_app = typer.Typer(
    help="What reminders were sent, to whom, and how it went.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(plan_app, name="plan")
round_app = typer.Typer(
    help="Reporting rounds: ask owners for status, see who answered.", no_args_is_help=True
)
app.add_typer(reminders_app, name="reminders")
app.add_typer(round_app, name="round")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PlanOption = Annotated[
    str | None, typer.Option("--plan", help="Plan key; may be left out when there is one plan.")
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="The date to judge deadlines by, YYYY-MM-DD (default: today)."),
]


def friendly(fn: Callable) -> Callable:
    """Show errors the user can fix as plain lines with exit status 2, not tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as exc:
            message = describe(exc, _database_url())
            if message is None:
                raise
            for line in message.splitlines():
                err.print(f"error: {line}", style="red", markup=False, highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def _database_url() -> str | None:
    """The configured database, for error messages; None when the settings themselves are
    what is wrong."""
    try:
        return get_settings().resolved_database_url
    except ValueError:
        return None


def parse_date(value: str | None, option: str = "--as-of") -> date:
    if value is None:
        return today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def checked_engine():
    """The engine, refusing to work on a database that is not fully migrated."""
    from models.migrate import ensure_current

    engine = get_engine()
    ensure_current(engine)
    return engine


# ---------------------------------------------------------------------------- db


@db_app.command("upgrade")
@friendly
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the schema migrations (creates the database on first use)."""
    from models.migrate import upgrade

    before, after = upgrade(get_engine(), revision)
    url = get_settings().resolved_database_url
    from models.db import safe_url

    if before == after:
        out.print(f"database {safe_url(url)} is up to date (migration {after})")
    else:
        out.print(f"database {safe_url(url)} migrated from {before or 'empty'} to {after}")


@db_app.command("current")
@friendly
def db_current() -> None:
    """Show the database's migration and the one the code needs."""
    from models.migrate import current_revision, head_revision

    current, head = current_revision(get_engine()), head_revision()
    state = "up to date" if current == head else "run `followup db upgrade`"
    out.print(f"database at {current or 'none'}, code needs {head}: {state}")


# ---------------------------------------------------------------------------- plans


@app.command("import")
@friendly
def import_(
    path: Annotated[Path, typer.Argument(help="A plan file (.yaml) or a measures table (.csv).")],
    plan: PlanOption = None,
    use_flow: Annotated[
        bool, typer.Option("--flow", help="Run it as the Prefect flow import-plan.")
    ] = False,
) -> None:
    """Import a plan file, or merge a measures CSV into a plan. Importing twice changes nothing."""
    checked_engine()
    if use_flow:
        from flows.import_plan import import_plan
        from models.planfile import read_plan_file

        if path.suffix.lower() in (".yaml", ".yml"):
            read_plan_file(path)  # before a flow run: a typo in the file is not a failed run
        result = import_plan(str(path), plan)
    else:
        from models.importer import import_path

        with session_scope() as session:
            result = import_path(session, str(path), plan)
    out.print(f"imported {path}: {result.summary()}", markup=False, highlight=False)
    for change in result.changes:
        out.print(
            f"  changed {change.entity} {change.entity_key} {change.field}: "
            f"{change.old_value!r} -> {change.new_value!r}",
            markup=False,
            highlight=False,
        )
    for warning in result.warnings:
        out.print(f"  warning: {warning}", markup=False, highlight=False)


@app.command("export")
@friendly
def export(
    plan: PlanOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: print).")
    ] = None,
) -> None:
    """Write a plan back out as a plan file, in the format `followup import` reads."""
    from models.exporter import dump_plan_file, export_plan

    checked_engine()
    with session_scope() as session:
        text = dump_plan_file(export_plan(session, plan))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


@plan_app.command("show")
@friendly
def plan_show(plan: PlanOption = None, as_of: AsOfOption = None) -> None:
    """Goals with their measures, who is responsible, deadlines and what is overdue."""
    from models.overview import plan_overview

    when = parse_date(as_of)
    checked_engine()
    with session_scope() as session:
        overview = plan_overview(session, when, plan)
    render_overview(overview, out)


@plan_app.command("list")
@friendly
def plan_list() -> None:
    """The plans in the database."""
    from sqlmodel import select

    from models.plan import Plan

    checked_engine()
    with session_scope() as session:
        plans = session.exec(select(Plan).order_by(Plan.key)).all()
        for p in plans:
            out.print(f"{p.key}\t{p.title}\t{p.reference or ''}", markup=False, highlight=False)
    if not plans:
        err.print("no plans yet: `followup import PATH`")


# ---------------------------------------------------------------------------- reminders


@app.command("remind")
@friendly
def remind(
    as_of: AsOfOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would go out; send and record nothing.")
    ] = False,
) -> None:
    """Run the send-reminders flow for a day (default: today in Oslo)."""
    from flows.send_reminders import send_reminders
    from notifications.channels import shown_channel

    when = parse_date(as_of)
    checked_engine()
    report = send_reminders(as_of=when, dry_run=dry_run)
    for p in report.previews:
        channels = ", ".join(shown_channel(c) for c in p["channels"]) or "no channel"
        out.rule(f"to {p['recipient']} ({channels})")
        out.print(f"Subject: {p['subject']}\n\n{p['text']}", markup=False, highlight=False)
    for o in report.outcomes:
        line = f"{o.state.value:9} {o.recipient} <{shown_channel(o.channel)}>: {o.subject}"
        out.print(line + (f"  [{o.error}]" if o.error else ""), markup=False, highlight=False)
    out.print(report.summary(), markup=False, highlight=False)


@reminders_app.command("log")
@friendly
def reminders_log(
    plan: PlanOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Only reminders claimed on this day.")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only what was not delivered.")] = False,
) -> None:
    """Every reminder: item, stage, recipient, channel, outcome, time."""
    from followup.reminders_view import render_reminder_log
    from models.reminder_log import reminder_log

    when = parse_date(as_of) if as_of else None
    checked_engine()
    with session_scope() as session:
        rows = reminder_log(session, plan, when, only_failed=failed)
    render_reminder_log(rows, out)


@app.command("outbox")
@friendly
def outbox(
    show: Annotated[
        int | None, typer.Option("--show", help="Print message number N in full.")
    ] = None,
) -> None:
    """List the messages in the outbox ($FOLLOWUP_DATA_DIR/outbox)."""
    from notifications.outbox import read_outbox

    messages = read_outbox(get_settings().outbox_dir)
    if show is not None:
        if not 1 <= show <= len(messages):
            raise ValueError(f"--show: there are {len(messages)} message(s) in the outbox")
        m = messages[show - 1]
        out.print(
            f"To: {m.to}\nSubject: {m.subject}\nFile: {m.path}\n\n{m.text}",
            markup=False,
            highlight=False,
        )
        return
    for number, m in enumerate(messages, start=1):
        out.print(
            f"{number:4}  {m.written_at[:19]}  {m.to:32}  {m.subject}",
            markup=False,
            highlight=False,
        )
    err.print(f"{len(messages)} message(s) in {get_settings().outbox_dir}")


# ---------------------------------------------------------------------------- rounds

RoundOption = Annotated[
    int | None, typer.Option("--round", help="Round id; may be left out when there is one.")
]


@round_app.command("open")
@friendly
def round_open(
    label: Annotated[str, typer.Option("--label", help="e.g. '1. tertial 2021'.")],
    deadline: Annotated[str, typer.Option("--deadline", help="Reply deadline, YYYY-MM-DD.")],
    as_of: AsOfOption = None,
    plan: PlanOption = None,
) -> None:
    """Open a round (flow open-status-round): invite every owner with a personal link."""
    from flows.rounds import open_status_round
    from models.queries import get_plan
    from models.rounds import check_new_round

    when, due = parse_date(as_of), parse_date(deadline, "--deadline")
    check_new_round(label, when, due)  # before a flow run: a typo is not a failed run
    checked_engine()
    with session_scope() as session:
        get_plan(session, plan)
    round_id = open_status_round(label=label, as_of=when, deadline=due, plan=plan)
    out.print(
        f"round {round_id} opened: {label!r}, as of {when}, reply by {due}",
        markup=False,
        highlight=False,
    )
    _print_round_status(round_id)


@round_app.command("close")
@friendly
def round_close(
    round_id: RoundOption = None,
    plan: PlanOption = None,
    no_summary: Annotated[
        bool, typer.Option("--no-summary", help="Close without building the summary.")
    ] = False,
) -> None:
    """Close a round (flow close-status-round): links stop working, and the ministry's
    summary of the round is written and sent (see `followup summary`)."""
    from flows.rounds import close_status_round
    from models.reporting import RoundState
    from models.rounds import get_round

    checked_engine()
    with session_scope() as session:  # before a flow run: no such round is not a failed run
        state = None if round_id else RoundState.OPEN
        round_id = get_round(session, round_id, plan, state=state).id
    closed = close_status_round(round_id=round_id, plan=plan, summary=not no_summary)
    out.print(f"round {closed} closed", highlight=False)
    _print_round_status(closed)


@round_app.command("reopen")
@friendly
def round_reopen(
    round_id: Annotated[int, typer.Option("--round", help="Round id.")],
    deadline: Annotated[
        str | None, typer.Option("--deadline", help="A new reply deadline, YYYY-MM-DD.")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who reopens it (logged).")] = "coordinator",
) -> None:
    """Reopen a closed round (flow reopen-status-round, logged), optionally with a new
    deadline: links work again, and whoever has not answered waits again in the UI."""
    from flows.rounds import reopen_status_round
    from models.rounds import check_reopen, get_round

    due = parse_date(deadline, "--deadline") if deadline else None
    checked_engine()
    with session_scope() as session:  # before a flow run: a wrong request is not a failed run
        rnd = get_round(session, round_id)
        check_reopen(rnd, due)
        kept = due or rnd.deadline
    reopen_status_round(round_id=round_id, deadline=due, by=by)
    out.print(f"round {round_id} reopened, reply by {kept}", highlight=False)
    if kept < today():
        out.print(
            f"note: the reply deadline {kept} has passed; close-due-rounds closes the round "
            "again on the next working morning unless it is extended (round extend)",
            highlight=False,
        )


@round_app.command("extend")
@friendly
def round_extend(
    deadline: Annotated[str, typer.Option("--deadline", help="The new deadline, YYYY-MM-DD.")],
    round_id: RoundOption = None,
    plan: PlanOption = None,
    by: Annotated[str, typer.Option("--by", help="Who extends it (logged).")] = "coordinator",
) -> None:
    """Move an open round's reply deadline later (logged)."""
    from models.reporting import RoundState
    from models.rounds import extend_round, get_round

    due = parse_date(deadline, "--deadline")
    checked_engine()
    with session_scope() as session:
        rnd = get_round(session, round_id, plan, state=None if round_id else RoundState.OPEN)
        extend_round(session, rnd, due, by)
        out.print(f"round {rnd.id} ({rnd.label}): reply by {due}", markup=False, highlight=False)


@round_app.command("status")
@friendly
def round_status(round_id: RoundOption = None, plan: PlanOption = None) -> None:
    """Who has answered and who is missing, per person."""
    from models.rounds import get_round

    checked_engine()
    with session_scope() as session:
        rid = get_round(session, round_id, plan).id
    _print_round_status(rid)


def _print_round_status(round_id: int) -> None:
    from followup.round_view import print_round_status

    print_round_status(out, round_id)


REPLY_OPTIONS = {  # a reply's fields as `followup reply` names them
    "status": "--status",
    "progress": "--progress",
    "done": "--done",
    "next_steps": "--next-steps",
    "expected_completion": "--expected",
    "risk_note": "--risk",
}


@app.command("reply")
@friendly
def reply(
    contact: Annotated[str, typer.Option("--contact", help="Contact key of the person.")],
    item: Annotated[str, typer.Option("--item", help="Measure number or assignment key.")],
    status: Annotated[
        str,
        typer.Option(
            "--status", help="not_started, on_track, at_risk, delayed, completed or cancelled."
        ),
    ],
    entered_by: Annotated[str, typer.Option("--entered-by", help="Who enters it (you).")],
    round_id: RoundOption = None,
    plan: PlanOption = None,
    progress: Annotated[int | None, typer.Option("--progress", help="0-100.")] = None,
    done: Annotated[str | None, typer.Option("--done", help="What was done.")] = None,
    next_steps: Annotated[str | None, typer.Option("--next-steps")] = None,
    expected: Annotated[
        str | None, typer.Option("--expected", help="New expected completion, YYYY-MM-DD.")
    ] = None,
    risk: Annotated[str | None, typer.Option("--risk", help="Risk note (amber/red).")] = None,
) -> None:
    """Record a status received by phone or mail, on someone's behalf (who entered it is kept)."""
    from sqlmodel import select

    from followup.web.strings import WEB
    from models.items import load_items
    from models.plan import Contact as ContactRow
    from models.replies import ReplyRefused, record_reply, validate_item
    from models.reporting import ReplyChannel, RoundState
    from models.rounds import get_round

    checked_engine()
    with session_scope() as session:
        rnd = get_round(session, round_id, plan, state=None if round_id else RoundState.OPEN)
        person = session.exec(
            select(ContactRow).where(ContactRow.plan_id == rnd.plan_id, ContactRow.key == contact)
        ).first()
        if person is None:
            raise ValueError(f"--contact: no contact {contact!r} in this plan")
        named: dict[str, list[str]] = {}  # what --item may say: "4", "t10-2020-x", "measure:4"
        for i in load_items(session, rnd.plan_id):
            short = str(i.number) if i.number is not None else i.key
            for name in (short, i.ref.token):
                named.setdefault(name, []).append(i.ref.token)
        if item not in named:
            raise ValueError(f"--item: no measure or assignment {item!r} in this plan")
        if len(named[item]) > 1:
            raise ValueError(
                f"--item {item} names more than one item; write one of " + ", ".join(named[item])
            )
        raw = dict(
            status=status,
            progress=None if progress is None else str(progress),
            done=done,
            next_steps=next_steps,
            expected_completion=expected,
            risk_note=risk,
        )
        parsed, problems = validate_item(named[item][0], raw, rnd)
        if problems:
            words = WEB["en"]
            raise ValueError(
                "; ".join(
                    f"{REPLY_OPTIONS[p.field]}: {words[p.code].format(**p.params)}"
                    for p in problems
                )
            )
        try:
            submission = record_reply(
                session,
                rnd,
                person.id,
                [parsed],
                channel=ReplyChannel.COORDINATOR,
                entered_by=entered_by,
            )
        except ReplyRefused as exc:
            if exc.code == "not_yours":
                raise ValueError(
                    f"--item {item}: {person.name} is not asked about it in round "
                    f"{rnd.id} ({rnd.label})"
                ) from None
            raise ValueError(str(exc)) from None
        round_label, rid = rnd.label, rnd.id
    out.print(
        f"recorded {status} for {item} on behalf of {person.name} in {round_label!r} "
        f"(entered by {entered_by}, reference {submission[:12]})",
        markup=False,
        highlight=False,
    )
    from followup.web.app import sync_prefect

    sync_prefect(rid, person.id)


@app.command("serve")
@friendly
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (one per core).")
    ] = 1,
) -> None:
    """Run the reply web app (links in messages start with FOLLOWUP_PUBLIC_URL)."""
    from followup.web.serve import serve as serve_app

    checked_engine()
    err.print(f"reply app on http://{host}:{port}/ (links use {get_settings().public_url})")
    serve_app(host=host, port=port, workers=workers)


# ---------------------------------------------------------------------------- demo


@app.command("demo")
@friendly
def demo(
    fresh: Annotated[bool, typer.Option(help="Start from an empty demo database.")] = True,
) -> None:
    """The whole story on embedded defaults: import the bundled plan, remind through spring
    2020, run the 1 June 2020 round with replies over HTTP, and build the summary."""
    from followup.demo import run_demo

    run_demo(out, fresh=fresh)


from followup import cli_doctor, cli_summary, cli_up  # noqa: E402

cli_summary.register(app)
cli_up.register(app)
cli_doctor.register(app)


def main() -> None:
    app()
