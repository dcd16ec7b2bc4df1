#!/bin/sh
# Installs what tally needs to build and test on Debian 12, from Debian's own packages only.
# Runs apt-get only when something is missing, so a second call is quick and offline.
set -eu
pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev liblmdb-dev libsodium-dev \
libzstd-dev libmsgpack-dev libjansson-dev libevent-dev libcmocka-dev golang-go golang-golang-x-mod-dev"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
