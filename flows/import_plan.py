"""import-plan: bring a plan file (or a measures CSV) into the database.

The import is one transaction: a bad file changes nothing. The run's artifact says what
was created and changed, so coordinators can see in the UI what an import did."""

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.hooks import notify_failure
from models.db import session_scope
from models.importer import ImportResult, import_path


@task(name="import-plan-file")
def import_file(path: str, plan_key: str | None) -> ImportResult:
    with session_scope() as session:
        return import_path(session, path, plan_key)


def describe_import(result: ImportResult, path: str) -> str:
    lines = [f"# Import of `{path}`", "", result.summary(), ""]
    if result.changes:
        lines += ["| what | field | old | new |", "|---|---|---|---|"]
        lines += [
            f"| {c.entity} {c.entity_key} | {c.field} | {c.old_value or ''} | {c.new_value or ''} |"
            for c in result.changes
        ]
    lines += [f"- {w}" for w in result.warnings]
    return "\n".join(lines)


@flow(name="import-plan", flow_run_name="import-plan {path}", on_failure=[notify_failure])
def import_plan(path: str, plan_key: str | None = None) -> ImportResult:
    """Import a plan file (YAML) or merge a measures table (CSV) into a plan.

    Args:
        path: Planfil (.yaml) eller tiltakstabell (.csv) på maskinen som kjører flyten. /
            A plan file (.yaml) or measures table (.csv) on the machine running the flow.
        plan_key: Planens nøkkel, for en CSV-tabell (tom når det er én plan). / The plan's
            key, for a CSV table (empty when there is one plan).
    """
    result = import_file(path, plan_key)
    get_run_logger().info(result.summary())
    create_markdown_artifact(
        key="plan-import", markdown=describe_import(result, path), description=result.summary()
    )
    return result
