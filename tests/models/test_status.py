"""The status vocabulary."""

from models.status import RAG_OF, Rag, Status, is_closed, status_label


def test_every_status_has_a_label_in_every_language():
    for language in ("nb", "nn", "en"):
        labels = [status_label(s.value, language) for s in Status]
        assert len(set(labels)) == len(Status)


def test_unknown_stored_values_are_shown_as_they_are():
    assert status_label("grønn", "nb") == "grønn"
    assert status_label(None, "nn") == "ingen status"
    assert not is_closed("grønn")


def test_only_completed_and_cancelled_close_an_item():
    assert {s for s in Status if is_closed(s.value)} == {Status.COMPLETED, Status.CANCELLED}
    assert RAG_OF[Status.DELAYED] is Rag.RED and RAG_OF[Status.AT_RISK] is Rag.AMBER
