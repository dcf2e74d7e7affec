"""The plan file: a whole plan in YAML, its schema, and how it is read with clear errors.

Reading never touches the database. It returns a validated ``PlanFile`` or raises
``PlanFileError`` listing every problem with the file, the line and the field.
"""

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from models.language import Language
from models.plan import OrganisationKind
from models.policy import ReminderPolicy

# ---------------------------------------------------------------------------- schema


def _iso_date(value: Any) -> Any:
    """Dates only as YYYY-MM-DD: a bare number must not become a Unix timestamp."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"{value} is not a date: {exc}") from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# Lengths are those of the database columns the values go to (models/plan.py): a value too
# long for its column is a plan-file error with its line, not a database error on import.
_KEY_PATTERN = r"^[\wÆØÅæøå][\w.\-ÆØÅæøå]*$"
Key = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_KEY_PATTERN),
]
OrgKey = Annotated[  # Organisation.key
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=_KEY_PATTERN),
]


def _text(max_length: int) -> Any:
    """Required text of at most ``max_length`` characters."""
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
    ]


def _free(max_length: int) -> Any:
    """Optional free text of at most ``max_length`` characters."""
    return Annotated[str, StringConstraints(max_length=max_length)] | None


def _not_boolean(value: Any) -> Any:
    """Refuse true/false as ``StrictInt`` does, for a ``Literal`` (which cannot be strict)."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Channel = Annotated[str, StringConstraints(max_length=500)]  # Delivery.channel
# Every whole number in a plan file is a StrictInt: YAML reads true/yes/on as a boolean, which
# pydantic would otherwise take as 1 (`goal: true` as goal 1).
Number = Annotated[StrictInt, Field(ge=1, le=1_000_000)]
CHANNEL_REF = re.compile(
    r"^(env:[A-Za-z_][A-Za-z0-9_]*"  # an environment variable holding an Apprise URL
    r"|secret:[a-z0-9][a-z0-9-]*"  # a Prefect Secret block holding one
    r"|[a-z][a-z0-9+.-]*://\S+"  # an Apprise URL
    r"|[^@\s:/]+@[^@\s:/]+\.[^@\s:/]+)$"  # an e-mail address, sent through FOLLOWUP_MAIL_URL
)


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    source: _free(500) = Field(default=None, description="Where the values come from.")
    illustrative: list[str] | None = Field(
        default=None, description="Fields whose values are illustrative, not from a document."
    )


class PeriodSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: IsoDate
    end: IsoDate

    @model_validator(mode="after")
    def _ordered(self) -> "PeriodSpec":
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self


class PlanSpec(Spec):
    key: Key
    title: _text(500)
    reference: _free(200) = None
    period: PeriodSpec
    coordinator: Key | None = Field(default=None, description="Contact key of the coordinator.")
    summary_recipients: list[Key] = Field(
        default_factory=list, description="Contact keys that receive the follow-up summary."
    )
    reminder_policy: ReminderPolicy | None = None


class OrganisationSpec(Spec):
    key: OrgKey
    name: _text(300)
    kind: OrganisationKind = OrganisationKind.AGENCY
    parent: OrgKey | None = None


class ContactSpec(Spec):
    key: Key
    name: _text(200)
    organisation: OrgKey | None = None
    language: Language = Language.NB
    channels: list[Channel] = Field(
        default_factory=list,
        description="E-mail addresses or Apprise URLs; env:VARIABLE or secret:block-name "
        "for URLs that carry secrets.",
    )


class GoalSpec(Spec):
    number: Number
    title: _text(500)
    chapter: StrictInt | None = None


class MeasureSpec(Spec):
    number: Number
    title: _text(1000)
    goal: StrictInt | None = None
    chapter: StrictInt | None = None
    lead: OrgKey | None = Field(
        default=None, description="Organisation with the main responsibility."
    )
    shared: list[OrgKey] = Field(default_factory=list, description="Co-responsible organisations.")
    owner: Key | None = Field(default=None, description="Contact who reports on the measure.")
    planned_start: IsoDate | None = None
    planned_end: IsoDate | None = None
    priority: StrictInt | None = Field(default=None, ge=1, le=1000)
    operationalisation: _free(5000) = None
    reminder_policy: ReminderPolicy | None = None


class AssignmentSpec(Spec):
    key: Key
    letter: _text(300)
    title: _text(500)
    text: _free(10000) = None
    issued_by: OrgKey | None = None
    issuer_contact: Key | None = None
    assigned_to: OrgKey | None = None
    owner: Key | None = None
    deadline: IsoDate | None = None
    priority: StrictInt | None = Field(default=None, ge=1, le=1000)
    measures: list[StrictInt] = Field(default_factory=list)
    reminder_policy: ReminderPolicy | None = None


class PlanFile(BaseModel):
    """A whole plan: the top level of a plan file."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[Literal[1], BeforeValidator(_not_boolean)] = 1
    plan: PlanSpec
    organisations: list[OrganisationSpec] = Field(default_factory=list)
    contacts: list[ContactSpec] = Field(default_factory=list)
    goals: list[GoalSpec] = Field(default_factory=list)
    measures: list[MeasureSpec] = Field(default_factory=list)
    assignments: list[AssignmentSpec] = Field(default_factory=list)


# ---------------------------------------------------------------------------- errors

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    message: str
    field: str | None = None
    line: int | None = None


class PlanFileError(ValueError):
    """A plan file that cannot be imported, with every problem found in it."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        for p in self.problems:
            where = f"{self.source}:{p.line}" if p.line else self.source
            lines.append(f"{where}: {p.field + ': ' if p.field else ''}{p.message}")
        return "\n".join(lines)


def field_name(path: Path_) -> str:
    """('measures', 3, 'lead') -> 'measures[3].lead'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ---------------------------------------------------------------------------- reading


class _Refused(yaml.MarkedYAMLError):
    """YAML that is valid but not allowed in a plan file."""


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so that the schema, not PyYAML, judges them.

    Anchors and aliases are refused while composing, before any alias is expanded: a plan
    file has no use for them, and they allow cycles and exponential expansion."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(
                problem="anchors and aliases (& and *) are not supported in a plan file",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_STR_TAG = "tag:yaml.org,2002:str"


def _index_lines(
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    problems: list[Problem],
    scalars: dict[Path_, str] | None = None,
):
    """Map every path in the document to the line it starts on; flag duplicate keys and keys
    that are not plain text. ``scalars`` gets the written text of values that YAML reads as
    something other than text (NO, yes, 2020), for clearer messages."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and scalars is not None and node.tag != _STR_TAG:
        scalars[path] = node.value
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == (
                "tag:yaml.org,2002:merge"
            ):
                problems.append(
                    Problem(
                        "a key must be plain text (complex keys with ? and merge keys << "
                        "are not supported in a plan file)",
                        field_name(path) or None,
                        key_node.start_mark.line + 1,
                    )
                )
                continue
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(
                        f"key '{key}' appears twice",
                        field_name((*path, key)),
                        key_node.start_mark.line + 1,
                    )
                )
            seen.add(key)
            _index_lines(value_node, (*path, key), lines, problems, scalars)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), lines, problems, scalars)


def _line_of(path: Path_, lines: dict[Path_, int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def parse_plan_text(text: str, source: str) -> PlanFile:
    """Validate plan-file text; raise PlanFileError naming every problem."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise PlanFileError(source, [Problem("the file is empty: expected a plan")])
            lines: dict[Path_, int] = {}
            scalars: dict[Path_, str] = {}
            problems: list[Problem] = []
            _index_lines(node, (), lines, problems, scalars)
            if problems:
                raise PlanFileError(source, problems)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except _Refused as exc:
        raise PlanFileError(
            source, [Problem(exc.problem, line=exc.problem_mark.line + 1)]
        ) from None
    except RecursionError:
        raise PlanFileError(source, [Problem("the YAML is nested too deeply")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PlanFileError(
            source,
            [
                Problem(
                    f"YAML syntax error: {exc.problem or exc.context}",
                    line=mark.line + 1 if mark else None,
                )
            ],
        ) from None
    except yaml.YAMLError as exc:
        raise PlanFileError(source, [Problem(f"YAML error: {exc}")]) from None

    if not isinstance(data, dict):
        raise PlanFileError(
            source,
            [
                Problem(
                    "expected a mapping with 'plan', 'organisations', 'contacts', 'goals', "
                    "'measures' and 'assignments'",
                    line=1,
                )
            ],
        )
    try:
        plan_file = PlanFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(
                problem_text(err, scalars.get(tuple(err["loc"]))),
                field_name(err["loc"]),
                _line_of(tuple(err["loc"]), lines),
            )
            for err in exc.errors()
        ]
        raise PlanFileError(source, problems) from None

    problems = [
        Problem(message, field_name(path), _line_of(path, lines))
        for path, message in check_references(plan_file)
    ]
    if problems:
        raise PlanFileError(source, problems)
    return plan_file


def problem_text(err: dict, written: str | None = None) -> str:
    """One pydantic error in words a plan-file author can act on; ``written`` is the value
    as the file has it, when YAML read it as something other than text."""
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "string_type" and written is not None:
        if isinstance(err["input"], bool):
            return (
                f'write it in quotes ("{written}"): YAML reads NO/yes/on as true/false, not as text'
            )
        if isinstance(err["input"], int | float):
            return f'write it in quotes ("{written}"): YAML reads it as a number, not as text'
    if err["type"] == "int_type" and isinstance(err["input"], bool):
        written = written or str(err["input"]).lower()
        return f"expected a whole number, not {written}: YAML reads it as true/false"
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling against docs/plan-file.md)"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def read_plan_file(path: str | Path) -> PlanFile:
    """Read and validate a plan file from disk."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlanFileError(source, [Problem(f"cannot read the file: {exc.strerror}")]) from None
    return parse_plan_text(decode_utf8(raw, source), source)


def decode_utf8(raw: bytes, source: str) -> str:
    """UTF-8 text (a byte-order mark is allowed), or a PlanFileError saying where it is not."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PlanFileError(
            source,
            [
                Problem(
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02X}); save the file as UTF-8",
                    line=line,
                )
            ],
        ) from None


# ---------------------------------------------------------------------------- references


def check_references(pf: PlanFile) -> list[tuple[Path_, str]]:
    """Cross-references, duplicates and dates: what one item alone cannot tell."""
    problems: list[tuple[Path_, str]] = []
    period = pf.plan.period

    def unique(section: str, ident: str) -> set:
        seen: set = set()
        for i, item in enumerate(getattr(pf, section)):
            value = getattr(item, ident)
            if value in seen:
                problems.append(((section, i, ident), f"duplicate {ident} {value!r} in {section}"))
            seen.add(value)
        return seen

    orgs = unique("organisations", "key")
    contacts = unique("contacts", "key")
    goals = unique("goals", "number")
    measures = unique("measures", "number")
    unique("assignments", "key")

    def known(path: Path_, value, pool: set, what: str) -> None:
        if value is not None and value not in pool:
            shown = sorted(pool)  # one kind of key per pool: numbers in number order
            hint = ", ".join(str(v) for v in shown[:12]) + (", …" if len(shown) > 12 else "")
            hint = hint or "none defined"
            problems.append((path, f"unknown {what} {value!r} (known: {hint})"))

    def within_period(path: Path_, value: date | None) -> None:
        if value is not None and not (period.start <= value <= period.end):
            problems.append(
                (path, f"{value} is outside the plan period {period.start} to {period.end}")
            )

    def once_each(path: Path_, values: list) -> None:
        """A list of references names each item once: the database links each pair once."""
        seen: set = set()
        for j, value in enumerate(values):
            if value in seen:
                problems.append(((*path, j), f"{value!r} is listed twice in {path[-1]}"))
            seen.add(value)

    def illustrative(path: Path_, spec: BaseModel) -> None:
        for name in spec.illustrative or []:
            if name not in type(spec).model_fields:
                problems.append(((*path, "illustrative"), f"{name!r} is not a field here"))

    plan = pf.plan
    illustrative(("plan",), plan)
    known(("plan", "coordinator"), plan.coordinator, contacts, "contact")
    for i, key in enumerate(plan.summary_recipients):
        known(("plan", "summary_recipients", i), key, contacts, "contact")
    once_each(("plan", "summary_recipients"), plan.summary_recipients)

    parents = {o.key: o.parent for o in pf.organisations}
    for i, org in enumerate(pf.organisations):
        path = ("organisations", i)
        illustrative(path, org)
        known((*path, "parent"), org.parent, orgs, "organisation")
        seen, cursor = {org.key}, org.parent
        while cursor in parents:
            if cursor in seen:
                problems.append(
                    ((*path, "parent"), f"organisation {org.key!r} is its own ancestor")
                )
                break
            seen.add(cursor)
            cursor = parents[cursor]

    for i, contact in enumerate(pf.contacts):
        path = ("contacts", i)
        illustrative(path, contact)
        known((*path, "organisation"), contact.organisation, orgs, "organisation")
        for j, channel in enumerate(contact.channels):
            if not CHANNEL_REF.match(channel.strip()):
                problems.append(
                    (
                        (*path, "channels", j),
                        "expected an e-mail address, an Apprise URL (scheme://...), "
                        "env:VARIABLE or secret:block-name",
                    )
                )

    for i, goal in enumerate(pf.goals):
        illustrative(("goals", i), goal)

    for i, m in enumerate(pf.measures):
        path = ("measures", i)
        illustrative(path, m)
        known((*path, "goal"), m.goal, goals, "goal")
        known((*path, "lead"), m.lead, orgs, "organisation")
        for j, key in enumerate(m.shared):
            known((*path, "shared", j), key, orgs, "organisation")
            if key == m.lead:
                problems.append(((*path, "shared", j), f"{key!r} is already the lead"))
        once_each((*path, "shared"), m.shared)
        known((*path, "owner"), m.owner, contacts, "contact")
        within_period((*path, "planned_start"), m.planned_start)
        within_period((*path, "planned_end"), m.planned_end)
        if m.planned_start and m.planned_end and m.planned_end < m.planned_start:
            problems.append(((*path, "planned_end"), "ends before it starts"))

    for i, a in enumerate(pf.assignments):
        path = ("assignments", i)
        illustrative(path, a)
        known((*path, "issued_by"), a.issued_by, orgs, "organisation")
        known((*path, "assigned_to"), a.assigned_to, orgs, "organisation")
        known((*path, "owner"), a.owner, contacts, "contact")
        known((*path, "issuer_contact"), a.issuer_contact, contacts, "contact")
        for j, number in enumerate(a.measures):
            known((*path, "measures", j), number, measures, "measure")
        once_each((*path, "measures"), a.measures)
        within_period((*path, "deadline"), a.deadline)
    return problems


def plan_file_json_schema() -> dict:
    """The JSON Schema of the plan file, as published in docs/plan-file.schema.json."""
    return PlanFile.model_json_schema()
