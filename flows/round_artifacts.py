"""The round's view in the Prefect UI: a progress artifact (replies in / expected) and a
table of who is missing, refreshed whenever replies come in. Works with or without a
running flow: from the web app and the CLI the artifacts are updated by id and key."""

import json
from uuid import UUID

from prefect.artifacts import create_progress_artifact, create_table_artifact

from models.db import session_scope
from models.reporting import ReportingRound
from models.rounds import progress


def artifact_key(rnd: ReportingRound, what: str) -> str:
    return f"round-{rnd.id}-{what}"


def refresh_round_artifacts(round_id: int) -> float:
    """Publish the round's progress and who is missing; returns the reply rate in %."""
    from prefect.client.orchestration import get_client

    with session_scope() as session:
        rnd = session.get(ReportingRound, round_id)
        people = progress(session, rnd)
        expected = sum(p.expected for p in people)
        replied = sum(p.replied for p in people)
        rate = 100.0 * replied / expected if expected else 100.0
        missing = [
            {
                "person": p.contact.name,
                "items": p.expected,
                "answered": p.replied,
                "last reply (UTC)": p.last_reply_at.strftime("%Y-%m-%d %H:%M")
                if p.last_reply_at
                else "–",
            }
            for p in people
            if not p.complete
        ]
        description = (
            f"{rnd.label}: {replied} of {expected} items answered "
            f"({len(missing)} people missing), reply by {rnd.deadline}"
        )
        artifact_id = rnd.progress_artifact_id
    if artifact_id is None:
        artifact_id = publish("progress", artifact_key(rnd, "progress"), rate, description)
        with session_scope() as session:
            session.get(ReportingRound, round_id).progress_artifact_id = artifact_id
    else:
        with get_client(sync_client=True) as client:
            from prefect.client.schemas.actions import ArtifactUpdate

            client.update_artifact(
                UUID(artifact_id), ArtifactUpdate(data=rate, description=description)
            )
    publish(
        "table",
        artifact_key(rnd, "missing"),
        missing or [{"person": "–", "items": 0, "answered": 0, "last reply (UTC)": "–"}],
        description,
    )
    return rate


def publish(kind: str, key: str, data: float | list[dict], description: str) -> str:
    """A keyed progress or table artifact; returns its id. Inside a flow or task it is tied
    to the run; from the web app or the CLI (no run) it is written through the API, as
    Prefect now asks."""
    from prefect.context import FlowRunContext, TaskRunContext

    if FlowRunContext.get() or TaskRunContext.get():
        if kind == "progress":
            return str(create_progress_artifact(progress=data, key=key, description=description))
        return str(create_table_artifact(key=key, table=data, description=description))
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    payload = data if kind == "progress" else json.dumps(data)
    with get_client(sync_client=True) as client:
        created = client.create_artifact(
            ArtifactCreate(key=key, type=kind, data=payload, description=description)
        )
    return str(created.id)
