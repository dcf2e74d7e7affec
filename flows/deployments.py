"""The deployments, in one place: what `followup up` serves and what prefect.yaml declares.

Each spec is plain data: the deployment's name, its flow, a description in Norwegian with
the English beside it, a schedule (cron in Oslo time) or none, default parameters and tags.
``followup deployments write-yaml`` writes prefect.yaml from these specs, and a test checks
that the committed file says the same."""

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow

from flows import rounds
from flows.build_summary import build_summary
from flows.import_plan import import_plan
from flows.send_reminders import send_reminders

TIMEZONE = "Europe/Oslo"
WORK_POOL = "followup"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of one flow."""

    name: str
    flow: Flow
    description: str
    cron: str | None = None
    timezone: str = TIMEZONE
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ("followup",)

    @property
    def entrypoint(self) -> str:
        """``flows/module.py:function``, relative to the project folder."""
        path = Path(inspect.getsourcefile(self.flow.fn)).resolve().relative_to(REPO)
        return f"{path.as_posix()}:{self.flow.fn.__name__}"

    @property
    def full_name(self) -> str:
        """``flow-name/deployment-name``, as `run_deployment` takes it."""
        return f"{self.flow.name}/{self.name}"

    def schedule(self) -> dict[str, str] | None:
        return {"cron": self.cron, "timezone": self.timezone} if self.cron else None


def _specs() -> list[DeploymentSpec]:
    return [
        DeploymentSpec(
            "send-reminders",
            send_reminders,
            "Sender påminnelser om frister hver arbeidsdag kl. 08 (norske virkedager), "
            "nøyaktig én gang. / Sends the deadline reminders every working day at 08:00 "
            "Oslo time, exactly once.",
            cron="0 8 * * 1-5",
            tags=("followup", "reminders"),
        ),
        DeploymentSpec(
            "open-status-round",
            rounds.open_status_round,
            "Åpner en rapporteringsrunde: alle ansvarlige får en personlig lenke. / "
            "Opens a reporting round: everyone responsible gets a personal reply link.",
            tags=("followup", "rounds"),
        ),
        DeploymentSpec(
            "close-status-round",
            rounds.close_status_round,
            "Lukker en rapporteringsrunde; ventende svar-kjøringer avsluttes. / "
            "Closes a reporting round; reply runs still waiting are released.",
            tags=("followup", "rounds"),
        ),
        DeploymentSpec(
            "reopen-status-round",
            rounds.reopen_status_round,
            "Åpner en lukket runde igjen; de som ikke har svart, venter igjen. / "
            "Reopens a closed round; whoever has not answered waits again.",
            tags=("followup", "rounds"),
        ),
        DeploymentSpec(
            "close-due-rounds",
            rounds.close_due_rounds,
            "Lukker runder som har passert svarfristen, hver morgen kl. 07.30. / "
            "Closes the rounds past their reply deadline, every morning at 07:30.",
            cron="30 7 * * *",
            tags=("followup", "rounds"),
        ),
        DeploymentSpec(
            "build-summary",
            build_summary,
            "Lager oppfølgingsrapporten til departementet (HTML, Word, CSV) og sender den. / "
            "Builds the ministry's follow-up summary (HTML, Word, CSV) and sends it.",
            tags=("followup", "summary"),
        ),
        DeploymentSpec(
            "import-plan",
            import_plan,
            "Importerer en planfil (YAML) eller en tiltakstabell (CSV) til databasen. / "
            "Imports a plan file (YAML) or a measures table (CSV) into the database.",
            tags=("followup", "plans"),
        ),
        DeploymentSpec(
            "collect-status-reply",
            rounds.collect_status_reply,
            "Venter på én persons statussvar i en runde (gi svaret med Resume). / "
            "Waits for one person's status reply in a round (give it with Resume).",
            tags=("followup", "rounds"),
        ),
        DeploymentSpec(
            "reconcile-reply-runs",
            rounds.reconcile_reply_runs,
            "Avslutter svar-kjøringer for svar som kom på annen måte, hvert kvarter. / "
            "Resumes the reply runs of replies that came another way, every 15 minutes.",
            cron="*/15 * * * *",
            tags=("followup", "rounds"),
        ),
    ]


DEPLOYMENTS: list[DeploymentSpec] = _specs()


def to_deployments(specs: list[DeploymentSpec] = DEPLOYMENTS) -> list:
    """RunnerDeployments for ``prefect.serve``: the same names, schedules and parameters."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    return [
        spec.flow.to_deployment(
            name=spec.name,
            description=spec.description,
            schedule=Cron(spec.cron, timezone=spec.timezone) if spec.cron else None,
            parameters=dict(spec.parameters),
            tags=list(spec.tags),
            # flows.module.function: runs load the installed package, from any folder
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for spec in specs
    ]


YAML_HEADER = """\
# Deployments for teams that run Prefect with a work pool:
#   prefect work-pool create followup --type process
#   prefect deploy --all
#   prefect worker start --pool followup
# Written by `followup deployments write-yaml` from flows/deployments.py: edit that file,
# then write this one again (a test fails when the two differ).
"""


def prefect_yaml(specs: list[DeploymentSpec] = DEPLOYMENTS) -> str:
    """The text of prefect.yaml for these specs."""
    from prefect import __version__

    deployments = []
    for spec in specs:
        entry: dict[str, Any] = {
            "name": spec.name,
            "entrypoint": spec.entrypoint,
            "description": spec.description,
            "tags": list(spec.tags),
            "parameters": dict(spec.parameters),
            "schedules": [spec.schedule()] if spec.cron else [],
            "work_pool": {"name": WORK_POOL},
        }
        deployments.append(entry)
    document = {
        "name": "followup",
        "prefect-version": __version__,
        "pull": [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $FOLLOWUP_HOME }}"
                }
            }
        ],
        "deployments": deployments,
    }
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=1000)
    return YAML_HEADER + "\n" + body
