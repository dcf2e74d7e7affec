"""One source of truth for the deployments: prefect.yaml says what flows/deployments.py says,
and what `followup up` serves is built from the same specs."""

import yaml
from prefect.flows import load_flow_from_entrypoint

from flows.deployments import DEPLOYMENTS, prefect_yaml, to_deployments
from flows.hooks import notify_failure
from flows.rounds import REPLY_DEPLOYMENT
from tests.conftest import REPO

PREFECT_YAML = REPO / "prefect.yaml"


def declared() -> dict[str, dict]:
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    return {d["name"]: d for d in document["deployments"]}


def test_prefect_yaml_declares_the_specs():
    in_yaml = declared()
    assert list(in_yaml) == [spec.name for spec in DEPLOYMENTS]
    for spec in DEPLOYMENTS:
        entry = in_yaml[spec.name]
        assert entry["entrypoint"] == spec.entrypoint
        assert entry["description"] == spec.description
        assert entry["parameters"] == spec.parameters
        assert entry["tags"] == list(spec.tags)
        assert entry["work_pool"] == {"name": "followup"}
        expected = [{"cron": spec.cron, "timezone": "Europe/Oslo"}] if spec.cron else []
        assert entry["schedules"] == expected, spec.name


def test_committed_prefect_yaml_is_the_generated_one():
    assert PREFECT_YAML.read_text(encoding="utf-8") == prefect_yaml(), (
        "prefect.yaml differs from flows/deployments.py: run `followup deployments write-yaml`"
    )


def test_the_deployments_the_issue_asks_for():
    by_name = {spec.name: spec for spec in DEPLOYMENTS}
    assert by_name["send-reminders"].cron == "0 8 * * 1-5"  # working mornings, Oslo time
    assert by_name["reconcile-reply-runs"].cron == "*/15 * * * *"
    for name in ("open-status-round", "close-status-round", "build-summary", "import-plan"):
        assert by_name[name].cron is None
    assert by_name["collect-status-reply"].full_name == REPLY_DEPLOYMENT
    assert by_name["close-due-rounds"].cron == "30 7 * * *"
    for spec in DEPLOYMENTS:
        nb, en = spec.description.split(" / ")
        assert nb and en, spec.name  # Norwegian, then English


def test_every_entrypoint_loads_the_flow_with_the_failure_hook():
    for spec in DEPLOYMENTS:
        flow = load_flow_from_entrypoint(str(REPO / spec.entrypoint))
        assert flow.name == spec.flow.name
        assert notify_failure in flow.on_failure_hooks, spec.name


def test_served_deployments_have_schedules_and_parameter_help():
    served = {d.name: d for d in to_deployments()}
    assert list(served) == [spec.name for spec in DEPLOYMENTS]
    reminders = served["send-reminders"]
    (schedule,) = reminders.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 8 * * 1-5", "Europe/Oslo")
    for name, deployment in served.items():
        assert deployment.description == next(s for s in DEPLOYMENTS if s.name == name).description
        properties = deployment._parameter_openapi_schema.properties
        for parameter, schema in properties.items():
            help_text = " ".join((schema.get("description") or "").split())
            assert " / " in help_text, f"{name}: {parameter} lacks help in nb / en"
