"""The published JSON Schema is the one the code validates with."""

import json

from models.planfile import plan_file_json_schema
from tests.conftest import REPO


def test_published_schema_matches_the_code():
    published = json.loads((REPO / "docs" / "plan-file.schema.json").read_text(encoding="utf-8"))
    assert published == plan_file_json_schema(), (
        "docs/plan-file.schema.json is stale: regenerate it with "
        "`python -c 'import json; from models.planfile import plan_file_json_schema; "
        "print(json.dumps(plan_file_json_schema(), indent=2, ensure_ascii=False))'`"
    )
