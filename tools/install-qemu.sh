#!/bin/sh
# Install QEMU from Debian when it is missing (root only); otherwise say what to install.
set -eu
if command -v qemu-system-x86_64 >/dev/null 2>&1 && command -v qemu-img >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "minivirt: installing QEMU (qemu-system-x86, qemu-utils) with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends qemu-system-x86 qemu-utils >/dev/null
    exit 0
fi
echo "minivirt: QEMU is missing; install it with:" >&2
echo "    sudo apt-get install --no-install-recommends qemu-system-x86 qemu-utils" >&2
exit 1
