"""The Prefect UI's Resume form for a reply: read by the same rules as the web form."""

from datetime import date

from flows.round_input import replies_from_input, reply_input_model
from models.db import session_scope
from models.items import load_items
from models.rounds import open_round
from tests.plans import import_plan_data, plan_data

MEASURES = [
    {"number": 1, "title": "Første", "owner": "koord", "planned_end": "2020-12-31"},
    {"number": 2, "title": "Andre", "owner": "koord", "planned_end": "2020-12-31"},
]


def test_a_progress_of_zero_without_a_status_asks_for_the_status(settings_env, tmp_path):
    import_plan_data(tmp_path, plan_data([], MEASURES))
    with session_scope() as session:
        rnd = open_round(session, label="R", as_of=date(2020, 6, 1), deadline=date(2020, 6, 15))
        items = load_items(session, rnd.plan_id)
        form = reply_input_model(items, "nb")

        zero = form(item_1_progress=0, item_2_status="on_track")
        replies, errors = replies_from_input(zero, items, rnd)
        assert errors == ["item_1_status: required"]  # not skipped as if left empty

        empty_first = form(item_2_status="on_track", item_2_progress=0)
        replies, errors = replies_from_input(empty_first, items, rnd)
        assert errors == [] and [(r.item, r.progress) for r in replies] == [("measure:2", 0)]
