"""The client processes of tools/bench_side.py: one script for libvirtd and minivirtd.

Run as ``PYTHON bench_client.py KIND MODE URI ARGS…`` where KIND is ``libvirt``
(``/usr/bin/python3`` with python3-libvirt) or ``minivirt`` (this venv's python,
``minivirt.bindings``, libvirt-python's surface).  Modes: ``calls DOM SECONDS``
(blockJobInfo in a loop after a "go" line on stdin; prints the count and the
process's CPU seconds over the loop),
``events DOM DISK…`` (pulls each disk, prints the BLOCK_JOB callback times and,
for libvirt, QEMU's event timestamps from qemuMonitorEventRegister), ``idle N``
(N open connections until stdin closes) and ``admin ACTION …`` (define, start,
destroy, pull, abort).  Stdlib and the client library only.
"""

import json
import sys
import threading
import time

__all__: list[str] = []


kind, mode, uri = sys.argv[1:4]
args = sys.argv[4:]
if kind == "libvirt":
    import libvirt
else:
    import minivirt.bindings as libvirt

if mode == "calls":
    conn = libvirt.open(uri)
    dom = conn.lookupByName(args[0])
    seconds = float(args[1])
    dom.blockJobInfo("vda", 0)
    print("ready", flush=True)
    sys.stdin.readline()
    cpu0 = time.process_time()
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        dom.blockJobInfo("vda", 0)
        count += 1
    print(count, time.process_time() - cpu0, flush=True)
elif mode == "events":
    libvirt.virEventRegisterDefaultImpl()

    def spin():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=spin, daemon=True).start()
    conn = libvirt.open(uri)
    dom = conn.lookupByName(args[0])
    got, stamps, cond = [], [], threading.Condition()

    def on_job(c, d, disk, jtype, status, opaque):
        now = time.time()
        with cond:
            got.append(now)
            cond.notify_all()

    conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, on_job, None)
    if kind == "libvirt":
        import libvirt_qemu

        def on_qmp(c, d, event, seconds, micros, details, opaque):
            stamps.append(seconds + micros / 1e6)

        libvirt_qemu.qemuMonitorEventRegister(conn, dom, "BLOCK_JOB_COMPLETED", on_qmp, None, 0)
    for i, disk in enumerate(args[1:]):
        dom.blockPull(disk, 0, 0)
        with cond:
            cond.wait_for(lambda i=i: len(got) > i, 30)
        time.sleep(0.05)
    time.sleep(0.2)
    print(json.dumps({"callbacks": got, "qemu": stamps}), flush=True)
elif mode == "idle":
    conns = [libvirt.open(uri) for _ in range(int(args[0]))]
    for c in conns:
        c.getLibVersion()
    print("ready", flush=True)
    sys.stdin.readline()
elif mode == "admin":
    conn = libvirt.open(uri)
    action = args[0]
    if action == "define":
        conn.defineXML(open(args[1]).read())
    elif action == "start":
        conn.lookupByName(args[1]).create()
    elif action == "destroy":
        conn.lookupByName(args[1]).destroy()
    elif action == "pull":
        conn.lookupByName(args[1]).blockPull(args[2], int(args[3]), 0)
    elif action == "abort":
        conn.lookupByName(args[1]).blockJobAbort(args[2], 0)
    conn.close()
