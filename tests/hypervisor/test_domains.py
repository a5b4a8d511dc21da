"""The define-time clash rules both drivers share (libvirt's virDomainObjListAddLocked)."""

from __future__ import annotations

import pytest

from minivirt.conf import DomainDef
from minivirt.hypervisor.domains import check_define
from minivirt.public import ErrorDomain, ErrorNumber, VirError

U1 = "11111111-2222-3333-4444-555555555555"
U2 = "66666666-7777-8888-9999-000000000000"


def clash(defn, same_uuid, known):
    with pytest.raises(VirError) as exc:
        check_define(defn, same_uuid, known)
    return exc.value.code, exc.value.domain, exc.value.message


def test_a_new_name_and_uuid_or_a_redefinition_pass():
    one = DomainDef("one", U1)
    check_define(DomainDef("two", U2), None, [one])
    check_define(DomainDef("one", U1, vcpus=2), one, [one])


def test_a_known_uuid_under_another_name():
    one = DomainDef("one", U1)
    assert clash(DomainDef("two", U1), one, [one]) == (
        ErrorNumber.OPERATION_FAILED,
        ErrorDomain.DOMAIN,
        f"operation failed: domain 'one' is already defined with uuid {U1}",
    )


def test_a_known_name_under_another_uuid():
    one = DomainDef("one", U1)
    assert clash(DomainDef("one", U2), None, [one]) == (
        ErrorNumber.OPERATION_FAILED,
        ErrorDomain.DOMAIN,
        f"operation failed: domain 'one' already exists with uuid {U1}",
    )


def test_the_uuid_is_checked_first():
    # "two" takes one's UUID while a third domain is named "two": libvirt names the UUID clash
    one, two = DomainDef("one", U1), DomainDef("two", U2)
    assert clash(DomainDef("two", U1), one, [one, two])[2] == (
        f"operation failed: domain 'one' is already defined with uuid {U1}"
    )
