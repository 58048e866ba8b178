#!/usr/bin/env bash
# promtool, Prometheus's own checker, for tests/deploy: `promtool check rules` and
# `promtool test rules` on deploy/prometheus/, `promtool check config` on the scrape
# example and `promtool check metrics` on the pages Paceline serves. It comes from Debian's
# `prometheus` package, unpacked (not installed: no service, no user, nothing started) into
# deploy/prometheus/bin/ (git-ignored). A promtool on PATH is used instead when present.
#
#   promtool.sh install   fetch and unpack it if missing (apt-get download; as root)
#   promtool.sh path      print the path of promtool
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
local_bin=$here/bin/promtool

find_promtool() {
    if [[ -x $local_bin ]]; then printf '%s\n' "$local_bin"; return 0; fi
    command -v promtool && return 0
    return 1
}

case ${1:-install} in
    install)
        if ! find_promtool >/dev/null; then
            if [[ $(id -u) != 0 ]]; then
                echo "promtool.sh: need root for apt-get (or put promtool on PATH)" >&2
                exit 1
            fi
            export DEBIAN_FRONTEND=noninteractive
            tmp=$(mktemp -d)
            trap 'rm -rf "$tmp"' EXIT
            # apt-get download writes into the working directory; _apt cannot write a
            # root-owned mktemp directory, so let it (the download is then sandboxed).
            chmod 0777 "$tmp"
            (cd "$tmp" && { apt-get download -q prometheus >/dev/null 2>&1 ||
                { apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; })
            dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
            mkdir -p "$here/bin"
            install -m 0755 "$tmp/root/usr/bin/promtool" "$local_bin"
        fi
        tool=$(find_promtool) || { echo "promtool.sh: no promtool after install" >&2; exit 1; }
        echo "promtool.sh: $tool ($("$tool" --version 2>&1 | head -1))"
        ;;
    path) find_promtool || { echo "promtool.sh: promtool is missing (promtool.sh install)" >&2; exit 1; } ;;
    *) echo "usage: promtool.sh install|path" >&2; exit 2 ;;
esac
