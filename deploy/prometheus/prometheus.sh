#!/usr/bin/env bash
# Prometheus's tools for tests/deploy, from Debian's `prometheus` package: promtool
# (`check rules`, `test rules`, `check config`, `check metrics`) and the server itself (a
# real Prometheus scrapes a running Paceline with the example configuration and evaluates
# the rules). The package is unpacked (not installed: no service, no user, nothing started)
# into deploy/prometheus/bin/ (git-ignored). Programs already on PATH are used instead.
#
#   prometheus.sh install    fetch and unpack them if missing (apt-get download; as root)
#   prometheus.sh promtool   print the path of promtool
#   prometheus.sh server     print the path of the prometheus server
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

find_tool() {  # find_tool NAME
    if [[ -x $here/bin/$1 ]]; then printf '%s\n' "$here/bin/$1"; return 0; fi
    command -v "$1" && return 0
    return 1
}

case ${1:-install} in
    install)
        if ! find_tool promtool >/dev/null || ! find_tool prometheus >/dev/null; then
            if [[ $(id -u) != 0 ]]; then
                echo "prometheus.sh: need root for apt-get (or put promtool and prometheus on PATH)" >&2
                exit 1
            fi
            export DEBIAN_FRONTEND=noninteractive
            tmp=$(mktemp -d)
            trap 'rm -rf "$tmp"' EXIT
            # apt-get download writes into the working directory; let _apt write there.
            chmod 0777 "$tmp"
            (cd "$tmp" && { apt-get download -q prometheus >/dev/null 2>&1 ||
                { apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; })
            dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
            mkdir -p "$here/bin"
            install -m 0755 "$tmp/root/usr/bin/promtool" "$tmp/root/usr/bin/prometheus" "$here/bin/"
        fi
        for tool in promtool prometheus; do
            path=$(find_tool "$tool") || { echo "prometheus.sh: no $tool after install" >&2; exit 1; }
            echo "prometheus.sh: $path ($("$path" --version 2>&1 | head -1))"
        done
        ;;
    promtool) find_tool promtool || { echo "prometheus.sh: promtool is missing (prometheus.sh install)" >&2; exit 1; } ;;
    server) find_tool prometheus || { echo "prometheus.sh: prometheus is missing (prometheus.sh install)" >&2; exit 1; } ;;
    *) echo "usage: prometheus.sh install|promtool|server" >&2; exit 2 ;;
esac
