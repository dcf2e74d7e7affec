"""Small plans for tests, written as plan files and imported the way users do."""

from pathlib import Path

import yaml

from models.db import session_scope
from models.importer import import_path


def plan_data(
    contacts: list[dict],
    measures: list[dict],
    assignments: list[dict] | None = None,
    coordinator: str | None = "koord",
    **plan,
) -> dict:
    people = [
        {
            "key": "koord",
            "name": "Kari Koordinator",
            "organisation": "Hdir",
            "channels": ["koord@example.org"],
        }
    ]
    people += [dict({"organisation": "Hdir"}, **c) for c in contacts]
    return {
        "plan": {
            "key": "testplan",
            "title": "Testplan",
            "reference": "Prop. 1 S (2019–2020)",
            "period": {"start": "2019-01-01", "end": "2024-12-31"},
            "coordinator": coordinator,
            **plan,
        },
        "organisations": [
            {"key": "HOD", "name": "Helse- og omsorgsdepartementet", "kind": "ministry"},
            {"key": "Hdir", "name": "Helsedirektoratet", "kind": "directorate", "parent": "HOD"},
        ],
        "contacts": people,
        "measures": [dict({"lead": "Hdir"}, **m) for m in measures],
        "assignments": assignments or [],
    }


def import_plan_data(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with session_scope() as session:
        import_path(session, str(path))
    return path
