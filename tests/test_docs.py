"""Generated documentation stays in step with its source."""

from tools import protocol_doc


def test_wire_protocol_page_is_up_to_date() -> None:
    assert protocol_doc.main(["--check"]) == 0, "run: python -m tools.protocol_doc"


def test_wire_protocol_page_lists_the_series_procedures() -> None:
    page = protocol_doc.PAGE.read_text()
    for number, name in [
        (237, "BLOCK_JOB_ABORT"),
        (238, "GET_BLOCK_JOB_INFO"),
        (239, "BLOCK_JOB_SET_SPEED"),
        (240, "BLOCK_PULL"),
        (241, "EVENT_BLOCK_JOB"),
    ]:
        assert f"| {number} | `REMOTE_PROC_DOMAIN_{name}` |" in page
