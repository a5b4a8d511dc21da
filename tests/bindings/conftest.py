"""Fixtures for the bindings tests: the default event loop and test:///default connections."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import minivirt.bindings as libvirt

TEST_URI = "test:///default"
#: The predefined domain of test:///default.
TEST_DOMAIN = "test"
TEST_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"


@pytest.fixture(autouse=True)
def event_loop_impl() -> None:
    """libvirt-python scripts register the default loop before opening connections."""
    assert libvirt.virEventRegisterDefaultImpl() == 0


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.open(TEST_URI)
    yield c
    if c.isAlive():
        c.close()


@pytest.fixture
def ro_conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.openReadOnly(TEST_URI)
    yield c
    if c.isAlive():
        c.close()


@pytest.fixture
def dom(conn: libvirt.virConnect) -> libvirt.virDomain:
    return conn.lookupByName(TEST_DOMAIN)
