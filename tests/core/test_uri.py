"""URI parsing: the plain fast path and urllib.parse agree on every text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivirt.core.uri import URI
from minivirt.public import ErrorDomain, ErrorNumber, VirError


def outcome(parse, text):
    try:
        return parse(text)
    except VirError as exc:
        return ("error", exc.code, exc.domain, exc.message)


@pytest.mark.parametrize(
    "text",
    [
        "qemu+tcp://127.0.0.1:16509/system",
        "qemu+tcp://Host.Example:1/system?no_verify=1&pkipath=/x",
        "qemu:///system",
        "qemu:///embed?root=/tmp/r",
        "test:///default",
        "qemu+unix:///system?socket=/run/x/sock",
        "qemu+tcp://:1234/system",
        "qemu+tcp://h:/system",
        "qemu:////system",
        "qemu+tcp://h:99999/system",
        "qemu+tcp://h:12a/system",
        "qemu+tcp://h?x=1",
        "QEMU+TLS://h/system?a=b=c&&d&a=2",
        "qemu+tcp://user@h/system",
        "qemu+tcp://[::1]:5/system",
        "qemu:///embed?root=/a%20b+c",
        "qemu:///system#frag",
        "1qemu:///system",
        "qemu:/system",
        "",
    ],
)
def test_examples_agree(text):
    assert outcome(URI.parse, text) == outcome(URI.parse_general, text)


def test_plain_fields():
    uri = URI.parse("QEMU+TCP://Host:1234/system?no_verify=1&x")
    assert (uri.scheme, uri.transport, uri.host, uri.port, uri.path) == (
        "qemu",
        "tcp",
        "host",
        1234,
        "/system",
    )
    assert uri.query == {"no_verify": "1", "x": ""} and uri.user is None
    err = outcome(URI.parse, "qemu+tcp://h:99999/system")
    assert err == (
        "error",
        ErrorNumber.INTERNAL_ERROR,
        ErrorDomain.URI,
        "internal error: Unable to parse URI qemu+tcp://h:99999/system",
    )


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="qemu+tcpsTL:/?&=#%@[]19 .-_;!$'()*,~aé", max_size=40),
)
def test_random_text_agrees(text):
    assert outcome(URI.parse, text) == outcome(URI.parse_general, text)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["qemu", "QEMU+tcp", "test", "qemu+unix", "a.b-c"]),
    st.text(alphabet="abcH0129.:-_", max_size=12),
    st.text(alphabet="/abcS_.", max_size=10),
    st.text(alphabet="ab=&/%+1", max_size=12),
)
def test_uri_shaped_text_agrees(scheme, netloc, path, query):
    text = f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    assert outcome(URI.parse, text) == outcome(URI.parse_general, text)
