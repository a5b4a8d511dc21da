#!/bin/sh
# Install what minivirt needs from Debian when it is missing (root only):
# QEMU (qemu-system-x86, qemu-utils) and openssl (the TLS tests make certificates).
# Otherwise say what to install.
set -eu
missing=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
command -v qemu-img >/dev/null 2>&1 || missing="$missing qemu-utils"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "minivirt: installing$missing with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    exit 0
fi
echo "minivirt: missing Debian packages:$missing; install them with:" >&2
echo "    sudo apt-get install --no-install-recommends$missing" >&2
exit 1
