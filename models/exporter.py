"""Write a plan from the database back out as a plan file, in the import's own format.

Import, export and import again gives identical rows: the export is built as a
``PlanFile`` and validated like any file before it is written."""

from typing import Any

import yaml
from sqlmodel import Session, select

from models.plan import (
    Assignment,
    AssignmentMeasure,
    Contact,
    Goal,
    Measure,
    MeasureSharedOrganisation,
    Organisation,
    PlanRole,
    PlanRoleKind,
)
from models.planfile import PlanFile
from models.queries import get_plan, link_keys

HEADER = (
    "# Plan file for followup (format: docs/plan-file.md).\n"
    "# 'source' says where values come from; 'illustrative' lists values that are not\n"
    "# from a document.\n"
)


def export_plan(session: Session, plan_key: str | None = None) -> PlanFile:
    """The plan as a validated PlanFile."""
    plan = get_plan(session, plan_key)
    pid = plan.id
    orgs = _all(session, Organisation, pid, Organisation.id)
    contacts = _all(session, Contact, pid, Contact.id)
    goals = _all(session, Goal, pid, Goal.number)
    measures = _all(session, Measure, pid, Measure.number)
    assignments = _all(session, Assignment, pid, Assignment.id)
    org_key = {o.id: o.key for o in orgs}
    contact_key = {c.id: c.key for c in contacts}
    goal_number = {g.id: g.number for g in goals}
    measure_number = {m.id: m.number for m in measures}
    roles = session.exec(
        select(PlanRole).where(PlanRole.plan_id == pid).order_by(PlanRole.position)
    ).all()
    shared = link_keys(
        session,
        MeasureSharedOrganisation,
        "measure_id",
        "organisation_id",
        [m.id for m in measures],
        org_key,
    )
    related = link_keys(
        session,
        AssignmentMeasure,
        "assignment_id",
        "measure_id",
        [a.id for a in assignments],
        measure_number,
    )

    def role(kind: PlanRoleKind) -> list[str]:
        return [contact_key[r.contact_id] for r in roles if r.role == kind]

    data: dict[str, Any] = {
        "version": 1,
        "plan": {
            "key": plan.key,
            "title": plan.title,
            "reference": plan.reference,
            "period": {"start": plan.period_start, "end": plan.period_end},
            "coordinator": next(iter(role(PlanRoleKind.COORDINATOR)), None),
            "summary_recipients": role(PlanRoleKind.SUMMARY_RECIPIENT),
            "reminder_policy": plan.reminder_policy,
            **_provenance(plan),
        },
        "organisations": [
            {
                "key": o.key,
                "name": o.name,
                "kind": o.kind,
                "parent": org_key.get(o.parent_id),
                **_provenance(o),
            }
            for o in orgs
        ],
        "contacts": [
            {
                "key": c.key,
                "name": c.name,
                "organisation": org_key.get(c.organisation_id),
                "language": c.language,
                "channels": c.channels,
                **_provenance(c),
            }
            for c in contacts
        ],
        "goals": [
            {"number": g.number, "title": g.title, "chapter": g.chapter, **_provenance(g)}
            for g in goals
        ],
        "measures": [
            {
                "number": m.number,
                "title": m.title,
                "goal": goal_number.get(m.goal_id),
                "chapter": m.chapter,
                "lead": org_key.get(m.lead_organisation_id),
                "shared": shared.get(m.id, []),
                "owner": contact_key.get(m.owner_id),
                "planned_start": m.planned_start,
                "planned_end": m.planned_end,
                "priority": m.priority,
                "operationalisation": m.operationalisation,
                "reminder_policy": m.reminder_policy,
                **_provenance(m),
            }
            for m in measures
        ],
        "assignments": [
            {
                "key": a.key,
                "letter": a.letter,
                "title": a.title,
                "text": a.text,
                "issued_by": org_key.get(a.issued_by_id),
                "issuer_contact": contact_key.get(a.issuer_contact_id),
                "assigned_to": org_key.get(a.assigned_organisation_id),
                "owner": contact_key.get(a.owner_id),
                "deadline": a.deadline,
                "priority": a.priority,
                "measures": related.get(a.id, []),
                "reminder_policy": a.reminder_policy,
                **_provenance(a),
            }
            for a in assignments
        ],
    }
    return PlanFile.model_validate(data)


def dump_plan_file(pf: PlanFile) -> str:
    """YAML text of a plan file: empty values left out, provenance last, dates unquoted."""
    # exclude_unset: a reminder policy is written with only the settings it makes.
    data = _prune(pf.model_dump(mode="json", exclude_none=True, exclude_unset=True))
    return HEADER + yaml.dump(
        data,
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=100,
        default_flow_style=False,
    )


class _Dumper(yaml.SafeDumper):
    """Writes dates as plain scalars (our loader reads them back as text), and never an
    anchor or alias (the loader refuses them)."""

    def ignore_aliases(self, data) -> bool:
        return True


_Dumper.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items() if v not in (None, [], {})}
        if value.keys() >= {"version", "plan"} and pruned.get("version") == 1:
            pruned = {"version": 1, **{k: v for k, v in pruned.items() if k != "version"}}
        tail = {k: pruned.pop(k) for k in ("source", "illustrative") if k in pruned}
        return {**pruned, **tail}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _provenance(row) -> dict[str, Any]:
    return {"source": row.source, "illustrative": row.illustrative}


def _all(session: Session, model, plan_id: int, order) -> list:
    return list(session.exec(select(model).where(model.plan_id == plan_id).order_by(order)).all())
