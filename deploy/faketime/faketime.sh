#!/usr/bin/env bash
# libfaketime for the date-proof runs (python -m tests.dates, make test-dates), from Debian's
# packages: `faketime` (the command) and `libfaketime` (the preload library it depends on).
#
#   faketime.sh install   apt-get install faketime (if the library is missing; as root)
#   faketime.sh lib       print the path of libfaketimeMT.so.1 (what tests/dates preloads)
set -euo pipefail

find_lib() {
    local f
    for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
        [[ -e $f ]] && { printf '%s\n' "$f"; return 0; }
    done
    return 1
}

case ${1:-install} in
    install)
        if ! find_lib >/dev/null || ! command -v faketime >/dev/null; then
            if [[ $(id -u) != 0 ]]; then
                echo "faketime.sh: need root to apt-get install faketime" >&2
                exit 1
            fi
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q >/dev/null
            apt-get install -y -q --no-install-recommends faketime >/dev/null
        fi
        lib=$(find_lib) || { echo "faketime.sh: installed, but no libfaketimeMT.so.1 found" >&2; exit 1; }
        echo "faketime.sh: $lib ($(dpkg-query -W -f '${Version}' libfaketime 2>/dev/null || echo '?'))"
        ;;
    lib) find_lib || { echo "faketime.sh: libfaketime is not installed (faketime.sh install)" >&2; exit 1; } ;;
    *) echo "usage: faketime.sh install|lib" >&2; exit 2 ;;
esac
