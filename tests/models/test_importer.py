"""Importing plans: upsert by stable keys, a change log, one transaction, lossless round trip."""

import pytest
from sqlmodel import select

from models.changelog import ChangeLogEntry
from models.db import session_scope
from models.exporter import dump_plan_file, export_plan
from models.importer import import_path
from models.plan import Assignment, Measure, MeasureSharedOrganisation, Organisation
from tests.conftest import BUNDLED_PLAN
from tests.helpers import snapshot


def import_file(path) -> object:
    with session_scope() as session:
        return import_path(session, str(path))


def test_first_import_creates_everything(engine):
    result = import_file(BUNDLED_PLAN)
    assert result.created == {
        "plan": 1,
        "organisation": 11,
        "contact": 8,
        "goal": 13,
        "measure": 15,
        "assignment": 5,
    }
    with session_scope() as session:
        hdir = session.exec(select(Organisation).where(Organisation.key == "Hdir")).one()
        hod = session.exec(select(Organisation).where(Organisation.key == "HOD")).one()
        assert hdir.parent_id == hod.id
        m2 = session.exec(select(Measure).where(Measure.number == 2)).one()
        shared = session.exec(
            select(MeasureSharedOrganisation).where(MeasureSharedOrganisation.measure_id == m2.id)
        ).all()
        assert [s.organisation_id for s in shared] == [hod.id]


def test_importing_the_same_file_twice_changes_nothing(engine):
    import_file(BUNDLED_PLAN)
    before = snapshot(engine)
    result = import_file(BUNDLED_PLAN)
    assert not result.created and not result.changes and not result.updated
    assert snapshot(engine) == before


def test_changed_deadline_and_title_update_the_row_and_are_logged(engine, tmp_path):
    import_file(BUNDLED_PLAN)
    text = BUNDLED_PLAN.read_text(encoding="utf-8")
    changed = (
        text.replace("deadline: 2020-09-01", "deadline: 2020-10-15")
        .replace(
            "title: Spre gode eksempler som MOT og SMART",
            "title: Spre gode eksempler som MOT, SMART og andre",
        )
        .replace("  shared: [BFD]\n", "  shared: [BFD, KD]\n")
    )
    path = tmp_path / "changed.yaml"
    path.write_text(changed, encoding="utf-8")

    result = import_file(path)

    assert result.updated == {"assignment": 1, "measure": 2}
    with session_scope() as session:
        log = {
            (e.entity, e.entity_key, e.field): (e.old_value, e.new_value, e.source_file)
            for e in session.exec(select(ChangeLogEntry)).all()
        }
        veileder = session.exec(
            select(Assignment).where(Assignment.key == "t10-2020-tverrfaglig-veileder")
        ).one()
        assert str(veileder.deadline) == "2020-10-15"
    assert log == {
        ("assignment", "t10-2020-tverrfaglig-veileder", "deadline"): (
            "2020-09-01",
            "2020-10-15",
            str(path),
        ),
        ("measure", "10", "title"): (
            "Spre gode eksempler som MOT og SMART",
            "Spre gode eksempler som MOT, SMART og andre",
            str(path),
        ),
        ("measure", "8", "shared"): ("BFD", "BFD, KD", str(path)),
    }


def test_reference_change_is_logged_by_key_not_id(engine, tmp_path):
    import_file(BUNDLED_PLAN)
    path = tmp_path / "lead.yaml"
    text = BUNDLED_PLAN.read_text(encoding="utf-8")
    path.write_text(text.replace("  lead: KUD\n", "  lead: KMD\n"), encoding="utf-8")
    import_file(path)
    with session_scope() as session:
        entry = session.exec(select(ChangeLogEntry)).one()
    assert (entry.field, entry.old_value, entry.new_value) == ("lead", "KUD", "KMD")


def test_item_missing_from_file_is_kept_with_a_warning(engine, tmp_path):
    import_file(BUNDLED_PLAN)
    text = BUNDLED_PLAN.read_text(encoding="utf-8")
    start = text.index("- number: 14\n")
    end = text.index("- number: 65\n")
    path = tmp_path / "fewer.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    result = import_file(path)
    assert result.warnings == ["measure 14 is in the database but not in the file: kept as it is"]


def test_a_failure_inside_the_import_transaction_leaves_nothing(engine):
    before = snapshot(engine)
    with pytest.raises(RuntimeError), session_scope() as session:
        import_path(session, str(BUNDLED_PLAN))
        raise RuntimeError("the machine stopped here")
    assert snapshot(engine) == before


def test_round_trip_import_export_import_gives_identical_rows(engine, tmp_path):
    import_file(BUNDLED_PLAN)
    rows_first = snapshot(engine, volatile=False)
    with session_scope() as session:
        exported = dump_plan_file(export_plan(session))
    path = tmp_path / "exported.yaml"
    path.write_text(exported, encoding="utf-8")

    result = import_file(path)  # into the same database: nothing to change
    assert not result.changes and not result.created
    assert snapshot(engine, volatile=False) == rows_first

    with session_scope() as session:
        assert dump_plan_file(export_plan(session)) == exported


def test_round_trip_into_an_empty_database(engine, tmp_path):
    import_file(BUNDLED_PLAN)
    rows_first = snapshot(engine, volatile=False)
    with session_scope() as session:
        exported = dump_plan_file(export_plan(session))
    # Empty the database and import the export: the same rows come back.
    with session_scope() as session:
        from models.plan import Plan

        session.delete(session.exec(select(Plan)).one())
    assert all(not rows for name, rows in snapshot(engine).items() if name != "alembic_version")
    path = tmp_path / "exported.yaml"
    path.write_text(exported, encoding="utf-8")
    import_file(path)
    with session_scope() as session:
        assert dump_plan_file(export_plan(session)) == exported
    second = snapshot(engine, volatile=False)
    assert {k: len(v) for k, v in second.items()} == {k: len(v) for k, v in rows_first.items()}


def test_csv_import_merges_measures_and_splits_responsibility(engine, tmp_path):
    import_file(BUNDLED_PLAN)
    csv_path = tmp_path / "tiltak.csv"
    csv_path.write_text(
        "nr;tittel;ansvarlig;hovedmål\n"
        "2;Tydeliggjøre forventninger til statsforvalterne;KMD/HOD/BFD;1\n"
        "15;Nytt tiltak fra tabellen;KD;3\n",
        encoding="utf-8",
    )
    result = import_file(csv_path)
    assert result.created == {"measure": 1}
    assert result.updated == {"measure": 1}
    with session_scope() as session:
        pf = export_plan(session)
    by_number = {m.number: m for m in pf.measures}
    assert (by_number[2].lead, by_number[2].shared) == ("KMD", ["HOD", "BFD"])
    assert by_number[2].planned_end is not None  # kept from the plan file
    assert (by_number[15].title, by_number[15].goal) == ("Nytt tiltak fra tabellen", 3)


def test_the_shared_domain_csv_reads_as_is(engine):
    from tests.conftest import REPO

    domain_csv = REPO.parent / "shared" / "domain" / "prop121s-tiltak-kapittel3.csv"
    if not domain_csv.exists():
        pytest.fail(f"{domain_csv} is missing")
    import_file(BUNDLED_PLAN)
    result = import_file(domain_csv)
    assert not result.created
    # Measure 14 has an empty responsible cell, which clears its lead: it has none in the
    # bundled plan either.
    assert "lead" not in {c.field for c in result.changes}


def test_csv_with_unknown_ministry_is_refused_and_changes_nothing(engine, tmp_path):
    from models.planfile import PlanFileError

    import_file(BUNDLED_PLAN)
    before = snapshot(engine)
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(
        "number,title,responsible\n3,Tittel,XYZ/HOD\nx,Tittel,HOD\n", encoding="utf-8"
    )
    with pytest.raises(PlanFileError) as caught:
        import_file(csv_path)
    assert f"{csv_path}:2: responsible: unknown organisation 'XYZ' (known: " in str(caught.value)
    assert f"{csv_path}:3: number: not a measure number: 'x'" in str(caught.value)
    assert snapshot(engine) == before


def test_csv_with_unknown_goal_is_refused_with_its_line_and_changes_nothing(engine, tmp_path):
    from models.planfile import PlanFileError

    import_file(BUNDLED_PLAN)
    before = snapshot(engine)
    csv_path = tmp_path / "goal.csv"
    csv_path.write_text("nr;tittel;mål\n2;Ny tittel;1\n40;Nytt tiltak;77\n", encoding="utf-8")
    with pytest.raises(PlanFileError) as caught:
        import_file(csv_path)
    assert str(caught.value) == (
        f"{csv_path}:3: goal: unknown goal 77 (known: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, …)"
    )
    assert snapshot(engine) == before
