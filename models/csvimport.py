"""The measures table as ministries keep it (number, title, responsible ministry, goal),
merged into a plan: CSV rows update or add measures; everything else is kept.

The responsible column says who leads and who shares: "KMD/HOD" means KMD leads and HOD
shares. A table without that column keeps every measure's lead and shared organisations; in
a table with it, an empty cell clears them (a measure need not have a lead). What the check
of the whole merged plan finds in a row's measure (an unknown organisation or goal, an
organisation named twice in a cell, "HOD/HOD") is told at the row's line and column.
"""

import csv
import io
import re
from pathlib import Path

from pydantic import ValidationError

from models.planfile import (
    MeasureSpec,
    Path_,
    PlanFile,
    PlanFileError,
    Problem,
    check_references,
    decode_utf8,
    field_name,
    problem_text,
)

# Header names we accept for each field, Norwegian and English, as ministries write them.
HEADERS = {
    "number": ("number", "nr", "nummer", "tiltak_nr", "seq_in_appendix", "løpenummer"),
    "title": ("title", "tittel", "tiltak", "tiltak_title_nb", "regjeringen vil"),
    "responsible": ("responsible", "ansvarlig", "ansvarlig departement", "ansvar"),
    "goal": ("goal", "hovedmål", "mål"),
    "chapter": ("chapter", "kapittel"),
    "source": ("source", "kilde"),
}


def split_responsible(text: str) -> tuple[str | None, list[str]]:
    """'KMD/HOD' -> ('KMD', ['HOD']): the first leads, the others share."""
    keys = [k.strip() for k in re.split(r"[/,;]| og ", text or "") if k.strip()]
    return (keys[0], keys[1:]) if keys else (None, [])


def merge_measures_csv(pf: PlanFile, path: str | Path) -> PlanFile:
    """The plan file with the CSV's measures merged in, validated as a whole plan."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PlanFileError(source, [Problem(f"cannot read the file: {reason}")]) from None
    text = decode_utf8(raw, source)
    reader = csv.reader(io.StringIO(text), delimiter=_separator(text), skipinitialspace=True)
    line = 1
    try:
        header = next(reader, [])
        columns = _columns(header, source)
        measures = {m.number: m for m in pf.measures}
        seen: dict[int, int] = {}
        problems: list[Problem] = []
        while True:
            line = reader.line_num + 1  # where the next record starts
            row = next(reader, None)
            if row is None:
                break
            if not any(c.strip() for c in row):
                continue  # blank lines
            _merge_row(row, columns, line, measures, seen, problems)
    except csv.Error as exc:
        raise PlanFileError(
            source, [Problem(f"not a readable CSV row: {exc}", line=line)]
        ) from None
    merged = pf.model_copy(update={"measures": sorted(measures.values(), key=lambda m: m.number)})
    problems += [
        _reference_problem(merged, where, message, columns, seen)
        for where, message in check_references(merged)
    ]
    if problems:
        # Those about the plan itself first, then row by row, left to right.
        def place(p: Problem) -> tuple[int, int]:
            return p.line or 0, columns.get(p.field or "", len(columns))

        raise PlanFileError(source, sorted(problems, key=place))
    return merged


# The measure fields that come from the responsible column; the others from the column of
# their own name (HEADERS).
FROM_RESPONSIBLE = ("lead", "shared")


def _reference_problem(
    merged: PlanFile, path: Path_, message: str, columns: dict[str, int], lines: dict[int, int]
) -> Problem:
    """A whole-plan problem, at the CSV row and column when it is about a measure from a row.

    ``lines`` maps the CSV's measure numbers to their rows' lines. A field the table has no
    column for was kept from the plan: it is named as the measure's field, at the row.
    """
    if len(path) > 2 and path[0] == "measures" and isinstance(path[1], int):
        number = merged.measures[path[1]].number
        if number in lines:
            field = str(path[2])
            column = "responsible" if field in FROM_RESPONSIBLE else field
            if column in columns:
                return Problem(message, column, lines[number])
            return Problem(f"{field_name(path[2:])}: {message}", f"measure {number}", lines[number])
    return Problem(message, field_name(path))


def _merge_row(
    row: list[str],
    columns: dict[str, int],
    line: int,
    measures: dict[int, MeasureSpec],
    seen: dict[int, int],
    problems: list[Problem],
) -> None:
    """Update or add the row's measure in ``measures``; what is wrong goes to ``problems``."""

    def cell(name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    try:
        number = int(cell("number"))
    except ValueError:
        problems.append(Problem(f"not a measure number: {cell('number')!r}", "number", line))
        return
    if number in seen:
        problems.append(
            Problem(
                f"measure {number} appears twice (lines {seen[number]} and {line})", "number", line
            )
        )
        return
    seen[number] = line
    base = measures.get(number)
    values = base.model_dump() if base else {"number": number}
    if cell("title"):
        values["title"] = cell("title")
    # A column left out of the table keeps what the plan says; an empty cell clears it.
    if "responsible" in columns:
        values["lead"], values["shared"] = split_responsible(cell("responsible"))
    for name in ("goal", "chapter"):
        if cell(name):
            if not cell(name).isdigit():
                problems.append(Problem(f"not a number: {cell(name)!r}", name, line))
                continue
            values[name] = int(cell(name))
    if cell("source"):
        values["source"] = cell("source")
    try:
        measures[number] = MeasureSpec.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            where = field_name(tuple(err["loc"]))
            message = f"{where}: {problem_text(err)}" if where else problem_text(err)
            problems.append(Problem(message, f"measure {number}", line))


SEPARATORS = (";", ",", "\t")


def _separator(text: str) -> str:
    """The separator: the one that splits the header into the most known columns.

    Sniffing guesses wrong on a comma inside a header ("merknad, intern") and fails on a
    header of one column; the header names are what we know, so they decide. Ties go to
    the order of ``SEPARATORS``; a header with no known column is split on the separator
    that gives the most columns, so that the error lists them.
    """

    def score(separator: str) -> tuple[int, int]:
        try:
            header = next(csv.reader(io.StringIO(text), delimiter=separator), [])
        except csv.Error:
            return (-1, 0)
        known = {
            field
            for name in header
            for field, aliases in HEADERS.items()
            if name.strip().lower() in aliases
        }
        return (len(known), len(header))

    return max(SEPARATORS, key=lambda s: (score(s), -SEPARATORS.index(s)))


def _columns(fieldnames: list[str], source: str) -> dict[str, int]:
    """Each known field's column index; the first of two columns for one field counts."""
    found: dict[str, int] = {}
    for index, name in enumerate(fieldnames):
        for field, aliases in HEADERS.items():
            if name and name.strip().lower() in aliases:
                found.setdefault(field, index)
    missing = [f for f in ("number", "title") if f not in found]
    names = ", ".join(n.strip() for n in fieldnames if n.strip()) or "nothing"
    if missing:
        raise PlanFileError(
            source,
            [
                Problem(
                    f"the header needs columns for {', '.join(missing)} (found: {names})",
                    line=1,
                )
            ],
        )
    return found
