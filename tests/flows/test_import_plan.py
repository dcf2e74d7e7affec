"""The import-plan flow on a real Prefect server."""

import pytest
from prefect.client.orchestration import get_client

from flows.import_plan import import_plan
from tests.conftest import BUNDLED_PLAN

pytestmark = pytest.mark.usefixtures("prefect_server")


async def _artifact(key: str):
    async with get_client() as client:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
        return artifacts


def test_import_plan_flow_imports_and_publishes_an_artifact(settings_env):
    import asyncio

    result = import_plan(str(BUNDLED_PLAN))
    assert result.created["measure"] == 15
    again = import_plan(str(BUNDLED_PLAN))
    assert not again.created and not again.changes
    artifacts = asyncio.run(_artifact("plan-import"))
    assert any("created nothing" in (a.description or "") for a in artifacts)


def test_import_plan_flow_fails_on_a_bad_file(settings_env, tmp_path):
    from prefect.states import State

    bad = tmp_path / "bad.yaml"
    bad.write_text("plan: {key: x}\n", encoding="utf-8")
    state: State = import_plan(str(bad), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match=r"plan.title: required field is missing"):
        state.result()
