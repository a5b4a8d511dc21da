"""The conformance harness's normalisation: it hides what varies, never a real difference."""

from __future__ import annotations

import pytest

from tools.conformance.normalise import normalise_python, normalise_text
from tools.conformance.run import compare

PATHS = ["/tmp/minivirt-conformance-x/li/errors-tcp", "/tmp/minivirt-conformance-x/li"]
OTHER = ["/tmp/minivirt-conformance-x/mi/errors-tcp", "/tmp/minivirt-conformance-x/mi"]


def _error(code=55, domain=20, message="Requested operation is not valid: domain is not running"):
    return {
        "calls": [
            {
                "call": "dom.blockPull vda 0 0",
                "error": {
                    "class": "libvirtError",
                    "code": code,
                    "domain": domain,
                    "message": message,
                },
            }
        ],
        "events": [],
    }


def test_scratch_paths_become_one_placeholder():
    a = normalise_text("error: disk '/tmp/minivirt-conformance-x/li/errors-tcp/top.qcow2'\n", PATHS)
    b = normalise_text("error: disk '/tmp/minivirt-conformance-x/mi/errors-tcp/top.qcow2'\n", OTHER)
    assert a == b == "error: disk '$SCRATCH/top.qcow2'\n"


def test_a_different_file_in_the_scratch_dir_still_differs():
    a = normalise_text("/tmp/minivirt-conformance-x/li/errors-tcp/top.qcow2", PATHS)
    b = normalise_text("/tmp/minivirt-conformance-x/mi/errors-tcp/base.qcow2", OTHER)
    assert a != b


def test_a_path_outside_the_scratch_dir_is_kept():
    a = normalise_text("source /var/lib/images/top.qcow2\n", PATHS)
    assert a == "source /var/lib/images/top.qcow2\n"
    assert normalise_text("x /tmp/other/top.qcow2", PATHS) != normalise_text(
        "x $SCRATCH/top.qcow2", PATHS
    )


@pytest.mark.parametrize(
    ("ref", "got"),
    [
        ({"code": 55}, {"code": 8}),
        ({"domain": 20}, {"domain": 10}),
        (
            {"message": "Requested operation is not valid: domain is not running"},
            {"message": "Requested operation is not valid: domain is not active"},
        ),
    ],
)
def test_a_changed_error_code_domain_or_message_survives(ref, got):
    a = normalise_python(_error(**ref), PATHS)
    b = normalise_python(_error(**got), OTHER)
    diffs = compare({"python": a}, {"python": b})
    assert list(diffs) == ["call 0 dom.blockPull vda 0 0"]


def test_same_error_on_both_sides_compares_equal():
    assert (
        compare(
            {"python": normalise_python(_error(), PATHS)},
            {"python": normalise_python(_error(), OTHER)},
        )
        == {}
    )


def test_exit_status_and_stderr_are_compared_exactly():
    ref = {"status": 1, "stdout": "\n", "stderr": "error: Domain is already active\n"}
    assert compare(ref, dict(ref, status=0)) == {"status": [1, 0]}
    other = dict(ref, stderr="error: Domain 'golden' is already active\n")
    assert "stderr" in compare(ref, other)


def test_progress_below_100_varies_but_completion_does_not():
    a = normalise_text("\rBlock Pull: [  0 %]\rBlock Pull: [ 37 %]\rBlock Pull: [100 %]", PATHS)
    b = normalise_text("\rBlock Pull: [ 12 %]\rBlock Pull: [100 %]", PATHS)
    c = normalise_text("\rBlock Pull: [100 %]", PATHS)
    assert a == b == c == "\rBlock Pull: [100 %]"
    aborted = normalise_text("\rBlock Pull: [  3 %]\rBlock Pull: [ 40 %]", PATHS)
    assert aborted == "\rBlock Pull: [  ~ %]"
    assert aborted != normalise_text("", PATHS)
    unfinished = normalise_text("\rBlock Pull: [ 99 %]", PATHS)
    assert unfinished != normalise_text("\rBlock Pull: [100 %]", PATHS)
    # the label is not normalised: a wrong job type shows
    assert normalise_text("\rBlock Copy: [ 12 %]", PATHS) != normalise_text(
        "\rBlock Pull: [ 12 %]", PATHS
    )


def test_a_running_cursor_varies_but_end_bandwidth_and_type_do_not():
    raw = " type=Block Pull\n bandwidth=1\n cur={cur}\n end=67108864\n\n"
    assert normalise_text(raw.format(cur=2097152), PATHS) == normalise_text(
        raw.format(cur=65536), PATHS
    )
    assert normalise_text(raw.format(cur=67108864), PATHS) != normalise_text(
        raw.format(cur=65536), PATHS
    )
    changed = raw.replace("bandwidth=1", "bandwidth=2").format(cur=65536)
    assert normalise_text(changed, PATHS) != normalise_text(raw.format(cur=65536), PATHS)
    info = {"type": 1, "bandwidth": 1, "cur": 5, "end": 100}
    assert normalise_python(info, PATHS) == normalise_python(dict(info, cur=70), PATHS)
    assert normalise_python(info, PATHS) == normalise_python(dict(info, cur=0), PATHS)
    assert normalise_python(info, PATHS) != normalise_python(dict(info, end=200), PATHS)
    assert normalise_python(info, PATHS) != normalise_python(dict(info, type=2), PATHS)
    assert normalise_python({}, PATHS) != normalise_python(info, PATHS)
    assert normalise_python(info, PATHS) != normalise_python(dict(info, bandwidth=2, cur=70), PATHS)
    assert normalise_python(info, PATHS) != normalise_python(dict(info, cur=100), PATHS)


def test_events_are_compared_in_order():
    a = {
        "calls": [],
        "events": [[8, "golden", "$SCRATCH/top.qcow2", 1, 0], [16, "golden", "vda", 1, 0]],
    }
    b = {
        "calls": [],
        "events": [[16, "golden", "vda", 1, 0], [8, "golden", "$SCRATCH/top.qcow2", 1, 0]],
    }
    assert "events" in compare({"python": a}, {"python": b})
    c = {
        "calls": [],
        "events": [[8, "golden", "$SCRATCH/top.qcow2", 1, 2], [16, "golden", "vda", 1, 2]],
    }
    assert "events" in compare({"python": a}, {"python": c})
