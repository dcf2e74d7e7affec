"""The measures table as ministries keep it (number, title, responsible ministry, goal),
merged into a plan: CSV rows update or add measures; everything else is kept."""

import csv
import io
import re
from pathlib import Path

from models.planfile import (
    MeasureSpec,
    PlanFile,
    PlanFileError,
    Problem,
    check_references,
    decode_utf8,
    field_name,
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
    text = decode_utf8(Path(path).read_bytes(), source)
    dialect = csv.Sniffer().sniff(text.splitlines()[0] if text.strip() else ",", ",;\t")
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = _columns(reader.fieldnames or [], source)
    measures = {m.number: m for m in pf.measures}
    problems: list[Problem] = []
    for line, row in enumerate(reader, start=2):

        def cell(name: str, row=row) -> str:
            return (row.get(columns[name]) or "").strip() if name in columns else ""

        try:
            number = int(cell("number"))
        except ValueError:
            problems.append(Problem(f"not a measure number: {cell('number')!r}", "number", line))
            continue
        lead, shared = split_responsible(cell("responsible"))
        base = measures.get(number)
        values = base.model_dump() if base else {"number": number}
        values.update(title=cell("title") or values.get("title"), lead=lead, shared=shared)
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
        except ValueError as exc:
            problems.append(Problem(str(exc).splitlines()[-1].strip(), f"measure {number}", line))
    if problems:
        raise PlanFileError(source, problems)
    merged = pf.model_copy(update={"measures": sorted(measures.values(), key=lambda m: m.number)})
    ref_problems = [Problem(msg, field_name(p)) for p, msg in check_references(merged)]
    if ref_problems:
        raise PlanFileError(source, ref_problems)
    return merged


def _columns(fieldnames: list[str], source: str) -> dict[str, str]:
    found = {}
    for name in fieldnames:
        for field, aliases in HEADERS.items():
            if name and name.strip().lower() in aliases:
                found.setdefault(field, name)
    missing = [f for f in ("number", "title") if f not in found]
    if missing:
        raise PlanFileError(
            source,
            [
                Problem(
                    f"the header needs columns for {', '.join(missing)} "
                    f"(found: {', '.join(fieldnames) or 'nothing'})",
                    line=1,
                )
            ],
        )
    return found
