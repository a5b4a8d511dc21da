"""Rules every hypervisor driver shares (libvirt's ``src/hypervisor`` analogue).

:mod:`minivirt.hypervisor.blockjob` holds the block-job rules — checks in
libvirt's order with libvirt's texts, bandwidth conversion, info translation,
event construction — and :mod:`minivirt.hypervisor.chain` the backing-chain
rules (base lookup, relative names, the chain after a pull), and
:mod:`minivirt.hypervisor.domains` the rules of the set of defined domains
(name and UUID clashes), once, for the qemu and the test driver.  This
package imports public, events and conf only; never core, a driver, remote,
the users or the wiring module.
"""

__all__: list[str] = []
