"""`followup doctor`: is this installation ready? One line per check, ok or what is wrong.

Checks the settings, the database and its migrations, the Prefect API (when
PREFECT_API_URL is set) and its automation for crashed runs, the mail server URL, and that
every contact's channel is a URL Apprise can use (parsed, never sent to)."""

import os
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from followup.errors import settings_problems


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def check_settings() -> tuple[Check, object | None]:
    from models.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = settings_problems(exc)
        # The other checks still run, on the defaults of the variables that are wrong.
        wrong = {e["loc"][0] for e in exc.errors() if e["loc"]}
        try:
            settings = Settings(**{name: Settings.model_fields[name].default for name in wrong})
        except ValidationError:
            return Check("settings", False, "; ".join(problems)), None
    else:
        problems = []
    folder = settings.data_dir
    existing = next((p for p in [folder, *folder.resolve().parents] if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK):
        problems.append(f"FOLLOWUP_DATA_DIR: cannot write to {folder}")
    if problems:
        return Check("settings", False, "; ".join(problems)), settings
    return Check(
        "settings",
        True,
        f"data folder {folder.resolve()}, time zone {settings.timezone}, "
        f"delivery to {settings.delivery}, reply links {settings.public_url}",
    ), settings


def check_database(settings) -> Check:
    from models.db import DatabaseUnreachable, make_engine, safe_url
    from models.migrate import SchemaOutOfDate, ensure_current, ensure_exists, head_revision

    url = settings.resolved_database_url
    try:
        ensure_exists(url)  # before an engine is made: it would make the file's folder
        engine = make_engine(url)
        try:
            ensure_current(engine)  # the same rule, and words, as every command's
        finally:
            engine.dispose()
    except (DatabaseUnreachable, SchemaOutOfDate) as exc:
        return Check("database", False, str(exc))
    except Exception as exc:
        return Check("database", False, f"{safe_url(url)}: {str(exc).splitlines()[0]}")
    return Check("database", True, f"{safe_url(url)} at migration {head_revision()}")


def prefect_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def check_prefect(api_url: str | None) -> Check:
    import httpx

    if not api_url:
        return Check(
            "prefect",
            True,
            "PREFECT_API_URL is not set: flows run on a temporary local server and nothing "
            "runs on schedule (`followup up` starts a server)",
        )
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=5)
    except httpx.HTTPError as exc:
        return Check("prefect", False, f"no answer from {api_url}: {exc}")
    if response.status_code != 200:
        return Check("prefect", False, f"{api_url}/health answered {response.status_code}")
    return Check("prefect", True, f"API at {api_url} is healthy")


def check_automation() -> Check:
    """The Prefect server has the automation that marks a run whose process died Crashed."""
    from prefect.client.orchestration import get_client

    from flows.automations import (
        NO_HEARTBEATS,
        UNRESPONSIVE_RUNS,
        in_minutes,
        unresponsive_after,
    )

    if unresponsive_after() is None:
        return Check("automation", True, NO_HEARTBEATS)
    try:
        with get_client(sync_client=True) as client:
            found = [a for a in client.read_automations_by_name(UNRESPONSIVE_RUNS) if a.enabled]
    except Exception as exc:
        return Check("automation", False, f"cannot read the automations: {exc}")
    if not found:
        return Check(
            "automation",
            False,
            "nothing marks a run whose process died as Crashed: run `followup automations`",
        )
    minutes = in_minutes(found[0].trigger.within)
    return Check(
        "automation", True, f"a run without a heartbeat for {minutes} minutes is marked Crashed"
    )


def check_mail(settings) -> Check:
    import apprise

    from notifications.channels import redact

    if settings.mail_url is None:
        return Check("mail", True, "FOLLOWUP_MAIL_URL not set: e-mail goes to the outbox")
    url = settings.mail_url.get_secret_value()
    if apprise.Apprise.instantiate(url) is None:
        return Check(
            "mail", False, f"FOLLOWUP_MAIL_URL is not a usable Apprise URL ({redact(url)})"
        )
    return Check("mail", True, f"mail server {redact(url)}")


def check_channels(settings, load_secret: Callable[[str], str] | None) -> Check:
    """Every contact's channel resolves to a URL that Apprise parses."""
    import apprise
    from sqlmodel import Session, select

    import notifications.outbox  # noqa: F401  (registers outbox://)
    from models.db import make_engine
    from models.plan import Contact, Plan
    from notifications.channels import EMAIL, ChannelError, channel_url, shown_channel

    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(Plan.key, Contact.key, Contact.channels)
                .join(Plan, Plan.id == Contact.plan_id)
                .order_by(Plan.key, Contact.key)
            ).all()
    finally:
        engine.dispose()
    problems, count, unchecked = [], 0, 0
    for plan_key, contact_key, channels in rows:
        for channel in channels or []:
            count += 1
            if EMAIL.match(channel.strip()):
                continue  # an e-mail address: sent through FOLLOWUP_MAIL_URL (checked above)
            shown = shown_channel(channel)
            if channel.startswith("secret:") and load_secret is None:
                unchecked += 1
                continue
            try:
                url = channel_url(channel, settings, load_secret, everything_to_outbox=False)
            except ChannelError as exc:
                problems.append(f"{plan_key}/{contact_key} {shown}: {exc}")
                continue
            if apprise.Apprise.instantiate(url) is None:
                problems.append(f"{plan_key}/{contact_key} {shown}: not a usable Apprise URL")
    if problems:
        return Check("channels", False, "; ".join(problems))
    people = len({(p, c) for p, c, _ in rows})
    note = f" ({unchecked} secret: channel(s) not checked: no Prefect API)" if unchecked else ""
    return Check("channels", True, f"{count} channel(s) of {people} contact(s) parse{note}")


def run_checks() -> list[Check]:
    """Every check, in order; checks that need an earlier one are left out when it failed."""
    checks = []
    settings_check, settings = check_settings()
    checks.append(settings_check)
    api_url = prefect_api_url()
    checks.append(prefect := check_prefect(api_url))
    if api_url and prefect.ok:
        checks.append(check_automation())
    if settings is None:
        return checks
    checks.append(check_mail(settings))
    checks.append(database := check_database(settings))
    if database.ok:
        load_secret = None
        if api_url and prefect.ok:
            from flows.deliveries import load_secret
        checks.append(check_channels(settings, load_secret))
    return checks
