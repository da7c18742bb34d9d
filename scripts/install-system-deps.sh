#!/bin/sh
# Install the Debian/Ubuntu packages given as arguments when they are missing (idempotent).
#   scripts/install-system-deps.sh [--optional] PACKAGE...
# --optional: warn instead of failing when they cannot be installed (used by `make demo`, which
# falls back to its embedded store and broker).
# Other systems: install the equivalents yourself (InfluxDB 1.x or later's v1 API, Mosquitto 2,
# libcoap's coap-client, Chromium + ChromeDriver, the DejaVu fonts, poppler's pdftotext); see README
# "Other systems".
set -eu

optional=no
if [ "${1:-}" = "--optional" ]; then optional=yes; shift; fi

missing=""
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0

give_up() {
    echo "ruong: could not install:$missing ($1)" >&2
    if [ "$optional" = yes ]; then
        echo "ruong: continuing without them (the demo uses its embedded store and broker)" >&2
        exit 0
    fi
    echo "ruong: install them with your package manager and run this again" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || give_up "no apt-get on this system"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    give_up "not root and no sudo"
fi

echo "ruong: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || give_up "apt-get update failed"
# shellcheck disable=SC2086 # word splitting of the package list is intended
$sudo apt-get install -y -qq --no-install-recommends $missing || give_up "apt-get install failed"
