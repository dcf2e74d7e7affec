"""Import a validated plan file into the database: upsert by stable keys, in the caller's
transaction, logging every changed value. Importing the same file twice changes nothing."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, SQLModel, delete, select

from models.changelog import ChangeLogEntry
from models.plan import (
    Assignment,
    AssignmentMeasure,
    Contact,
    Goal,
    Measure,
    MeasureSharedOrganisation,
    Organisation,
    Plan,
    PlanRole,
    PlanRoleKind,
)
from models.planfile import PlanFile, read_plan_file
from models.queries import link_keys
from models.types import utcnow


@dataclass
class ImportResult:
    plan_key: str
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    changes: list[ChangeLogEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.changes)

    def summary(self) -> str:
        def part(counter: Counter) -> str:
            return ", ".join(f"{n} {entity}" for entity, n in counter.items()) or "nothing"

        return (
            f"plan {self.plan_key}: created {part(self.created)}; updated {part(self.updated)}; "
            f"{sum(self.unchanged.values())} unchanged"
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value.value if hasattr(value, "value") else value)


class _Importer:
    def __init__(self, session: Session, pf: PlanFile, source_file: str | None):
        self.session, self.pf, self.source = session, pf, source_file
        self.result = ImportResult(plan_key=pf.plan.key)
        self.plan: Plan | None = None
        self.now = utcnow()

    # -- bookkeeping ------------------------------------------------------------

    def log(self, entity: str, key: Any, name: str, old: Any, new: Any) -> None:
        entry = ChangeLogEntry(
            plan_id=self.plan.id,
            entity=entity,
            entity_key=str(key),
            field=name,
            old_value=_text(old),
            new_value=_text(new),
            changed_at=self.now,
            source_file=self.source,
        )
        self.session.add(entry)
        self.result.changes.append(entry)

    def upsert(
        self,
        entity: str,
        model: type[SQLModel],
        existing: dict,
        key: Any,
        values: dict[str, Any],
        shown: dict[str, tuple[str, Any, Any]] | None = None,
    ) -> tuple[SQLModel, str]:
        """Create or update one row; returns it with "created", "changed" or "same".

        ``shown`` maps id columns to (file field, old key, new key) for the change log."""
        row = existing.get(key)
        if row is None:
            row = model(**values)
            self.session.add(row)
            existing[key] = row
            return row, "created"
        changed = False
        for name, value in values.items():
            old = getattr(row, name)
            if old != value:
                label, old_shown, new_shown = (shown or {}).get(name, (name, old, value))
                self.log(entity, key, label, old_shown, new_shown)
                setattr(row, name, value)
                changed = True
        return row, "changed" if changed else "same"

    def tally(self, entity: str, state: str, links_changed: bool = False) -> None:
        if state == "created":
            self.result.created[entity] += 1
        elif state == "changed" or links_changed:
            self.result.updated[entity] += 1
        else:
            self.result.unchanged[entity] += 1

    def replace_links(
        self,
        entity: str,
        key: Any,
        label: str,
        model: type[SQLModel],
        owner_col: str,
        owner_id: int,
        other_col: str,
        new: list[tuple[Any, int]],
        old_keys: list[Any],
        extra: dict | None = None,
        log: bool = True,
    ) -> bool:
        """Replace a link set (shared organisations, related measures, roles) when it differs."""
        new_keys = [k for k, _ in new]
        if new_keys == old_keys:
            return False
        if log:
            self.log(entity, key, label, old_keys or None, new_keys or None)
        self.session.exec(
            delete(model).where(
                getattr(model, owner_col) == owner_id,
                *(getattr(model, c) == v for c, v in (extra or {}).items()),
            )
        )
        for position, (_, other_id) in enumerate(new):
            row = model(**{owner_col: owner_id, other_col: other_id}, **(extra or {}))
            if "position" in model.model_fields:
                row.position = position
            self.session.add(row)
        return True

    def by(self, model: type[SQLModel], attr: str) -> dict:
        rows = self.session.exec(select(model).where(model.plan_id == self.plan.id)).all()
        return {getattr(r, attr): r for r in rows}

    # -- the import, top-down ---------------------------------------------------

    def run(self) -> ImportResult:
        self.import_plan()
        orgs = self.import_organisations()
        contacts = self.import_contacts(orgs)
        self.import_roles(contacts)
        goals = self.import_goals()
        measures = self.import_measures(orgs, contacts, goals)
        self.import_assignments(orgs, contacts, measures)
        if self.result.changes:
            self.plan.updated_at = self.now
        self.tally("plan", self._plan_state)
        self.session.flush()
        return self.result

    def import_plan(self) -> None:
        spec = self.pf.plan
        existing = {
            p.key: p for p in self.session.exec(select(Plan).where(Plan.key == spec.key)).all()
        }
        values = dict(
            key=spec.key,
            title=spec.title,
            reference=spec.reference,
            period_start=spec.period.start,
            period_end=spec.period.end,
            reminder_policy=_policy(spec.reminder_policy),
            source=spec.source,
            illustrative=spec.illustrative,
        )
        if spec.key in existing:
            self.plan = existing[spec.key]
        else:
            values.update(created_at=self.now, updated_at=self.now)
        self.plan, self._plan_state = self.upsert("plan", Plan, existing, spec.key, values)
        self.session.flush()

    def import_organisations(self) -> dict[str, Organisation]:
        orgs = self.by(Organisation, "key")
        names = {o.id: k for k, o in orgs.items()}
        states = {}
        for spec in self.pf.organisations:
            _, states[spec.key] = self.upsert(
                "organisation",
                Organisation,
                orgs,
                spec.key,
                dict(
                    plan_id=self.plan.id,
                    key=spec.key,
                    name=spec.name,
                    kind=spec.kind,
                    source=spec.source,
                    illustrative=spec.illustrative,
                ),
            )
        self.session.flush()
        for spec in self.pf.organisations:
            row, parent = orgs[spec.key], orgs[spec.parent].id if spec.parent else None
            moved = row.parent_id != parent
            if moved and states[spec.key] != "created":
                self.log("organisation", spec.key, "parent", names.get(row.parent_id), spec.parent)
            row.parent_id = parent
            self.tally("organisation", states[spec.key], moved)
        self._warn_missing("organisation", orgs, {s.key for s in self.pf.organisations})
        return orgs

    def import_contacts(self, orgs: dict[str, Organisation]) -> dict[str, Contact]:
        contacts = self.by(Contact, "key")
        org_key = {o.id: k for k, o in orgs.items()}
        for spec in self.pf.contacts:
            org_id = orgs[spec.organisation].id if spec.organisation else None
            old = contacts.get(spec.key)
            _, state = self.upsert(
                "contact",
                Contact,
                contacts,
                spec.key,
                dict(
                    plan_id=self.plan.id,
                    key=spec.key,
                    name=spec.name,
                    organisation_id=org_id,
                    language=spec.language,
                    channels=list(spec.channels),
                    source=spec.source,
                    illustrative=spec.illustrative,
                ),
                shown={
                    "organisation_id": (
                        "organisation",
                        org_key.get(old.organisation_id) if old else None,
                        spec.organisation,
                    )
                },
            )
            self.tally("contact", state)
        self.session.flush()
        self._warn_missing("contact", contacts, {s.key for s in self.pf.contacts})
        return contacts

    def import_roles(self, contacts: dict[str, Contact]) -> None:
        current = self.session.exec(
            select(PlanRole).where(PlanRole.plan_id == self.plan.id).order_by(PlanRole.position)
        ).all()
        key_of = {c.id: k for k, c in contacts.items()}
        wanted = {
            PlanRoleKind.COORDINATOR: [self.pf.plan.coordinator]
            if self.pf.plan.coordinator
            else [],
            PlanRoleKind.SUMMARY_RECIPIENT: self.pf.plan.summary_recipients,
        }
        for role, keys in wanted.items():
            old = [key_of[r.contact_id] for r in current if r.role == role]
            self.replace_links(
                "plan",
                self.plan.key,
                role.value,
                PlanRole,
                "plan_id",
                self.plan.id,
                "contact_id",
                [(k, contacts[k].id) for k in keys],
                old,
                extra={"role": role},
                log=self._plan_state != "created",
            )

    def import_goals(self) -> dict[int, Goal]:
        goals = self.by(Goal, "number")
        for spec in self.pf.goals:
            _, state = self.upsert(
                "goal",
                Goal,
                goals,
                spec.number,
                dict(
                    plan_id=self.plan.id,
                    number=spec.number,
                    title=spec.title,
                    chapter=spec.chapter,
                    source=spec.source,
                    illustrative=spec.illustrative,
                ),
            )
            self.tally("goal", state)
        self.session.flush()
        self._warn_missing("goal", goals, {s.number for s in self.pf.goals})
        return goals

    def import_measures(self, orgs, contacts, goals) -> dict[int, Measure]:
        measures = self.by(Measure, "number")
        org_key = {o.id: k for k, o in orgs.items()}
        contact_key = {c.id: k for k, c in contacts.items()}
        goal_number = {g.id: n for n, g in goals.items()}
        shared_now = link_keys(
            self.session,
            MeasureSharedOrganisation,
            "measure_id",
            "organisation_id",
            [m.id for m in measures.values()],
            org_key,
        )
        for spec in self.pf.measures:
            old = measures.get(spec.number)
            row, state = self.upsert(
                "measure",
                Measure,
                measures,
                spec.number,
                dict(
                    plan_id=self.plan.id,
                    number=spec.number,
                    title=spec.title,
                    goal_id=goals[spec.goal].id if spec.goal else None,
                    chapter=spec.chapter,
                    lead_organisation_id=orgs[spec.lead].id if spec.lead else None,
                    owner_id=contacts[spec.owner].id if spec.owner else None,
                    planned_start=spec.planned_start,
                    planned_end=spec.planned_end,
                    priority=spec.priority,
                    operationalisation=spec.operationalisation,
                    reminder_policy=_policy(spec.reminder_policy),
                    source=spec.source,
                    illustrative=spec.illustrative,
                ),
                shown=old
                and {
                    "goal_id": ("goal", goal_number.get(old.goal_id), spec.goal),
                    "lead_organisation_id": (
                        "lead",
                        org_key.get(old.lead_organisation_id),
                        spec.lead,
                    ),
                    "owner_id": ("owner", contact_key.get(old.owner_id), spec.owner),
                },
            )
            self.session.flush()
            linked = self.replace_links(
                "measure",
                spec.number,
                "shared",
                MeasureSharedOrganisation,
                "measure_id",
                row.id,
                "organisation_id",
                [(k, orgs[k].id) for k in spec.shared],
                shared_now.get(row.id, []),
                log=old is not None,
            )
            self.tally("measure", state, linked)
        self._warn_missing("measure", measures, {s.number for s in self.pf.measures})
        return measures

    def import_assignments(self, orgs, contacts, measures) -> None:
        assignments = self.by(Assignment, "key")
        org_key = {o.id: k for k, o in orgs.items()}
        contact_key = {c.id: k for k, c in contacts.items()}
        measure_number = {m.id: n for n, m in measures.items()}
        related_now = link_keys(
            self.session,
            AssignmentMeasure,
            "assignment_id",
            "measure_id",
            [a.id for a in assignments.values()],
            measure_number,
        )
        for spec in self.pf.assignments:
            old = assignments.get(spec.key)
            row, state = self.upsert(
                "assignment",
                Assignment,
                assignments,
                spec.key,
                dict(
                    plan_id=self.plan.id,
                    key=spec.key,
                    letter=spec.letter,
                    title=spec.title,
                    text=spec.text,
                    issued_by_id=orgs[spec.issued_by].id if spec.issued_by else None,
                    issuer_contact_id=contacts[spec.issuer_contact].id
                    if spec.issuer_contact
                    else None,
                    assigned_organisation_id=orgs[spec.assigned_to].id
                    if spec.assigned_to
                    else None,
                    owner_id=contacts[spec.owner].id if spec.owner else None,
                    deadline=spec.deadline,
                    priority=spec.priority,
                    reminder_policy=_policy(spec.reminder_policy),
                    source=spec.source,
                    illustrative=spec.illustrative,
                ),
                shown=old
                and {
                    "issued_by_id": ("issued_by", org_key.get(old.issued_by_id), spec.issued_by),
                    "issuer_contact_id": (
                        "issuer_contact",
                        contact_key.get(old.issuer_contact_id),
                        spec.issuer_contact,
                    ),
                    "assigned_organisation_id": (
                        "assigned_to",
                        org_key.get(old.assigned_organisation_id),
                        spec.assigned_to,
                    ),
                    "owner_id": ("owner", contact_key.get(old.owner_id), spec.owner),
                },
            )
            self.session.flush()
            linked = self.replace_links(
                "assignment",
                spec.key,
                "measures",
                AssignmentMeasure,
                "assignment_id",
                row.id,
                "measure_id",
                [(n, measures[n].id) for n in spec.measures],
                related_now.get(row.id, []),
                log=old is not None,
            )
            self.tally("assignment", state, linked)
        self._warn_missing("assignment", assignments, {s.key for s in self.pf.assignments})

    # -- helpers ----------------------------------------------------------------

    def _warn_missing(self, entity: str, rows: dict, in_file: set) -> None:
        for key in rows.keys() - in_file:
            self.result.warnings.append(
                f"{entity} {key} is in the database but not in the file: kept as it is"
            )


def _policy(policy) -> dict | None:
    return policy.model_dump(exclude_unset=True) if policy is not None else None


def import_plan_file(
    session: Session, pf: PlanFile, source_file: str | None = None
) -> ImportResult:
    """Upsert a whole plan in the session's transaction; the caller commits or rolls back."""
    return _Importer(session, pf, source_file).run()


def import_path(session: Session, path: str, plan_key: str | None = None) -> ImportResult:
    """Import a plan file, or merge a measures CSV into an existing plan, in one transaction."""
    from models.csvimport import merge_measures_csv
    from models.exporter import export_plan

    if Path(path).suffix.lower() == ".csv":
        plan_file = merge_measures_csv(export_plan(session, plan_key), path)
    else:
        plan_file = read_plan_file(path)
    return import_plan_file(session, plan_file, source_file=str(path))
