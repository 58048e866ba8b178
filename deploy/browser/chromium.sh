#!/usr/bin/env bash
# Headless Chromium for the browser tests (tests/browser), from Debian's packages: no
# browser download at test time. Also a CJK font, so screenshots show the zh-CN labels.
#
#   chromium.sh install   apt-get install chromium fonts-wqy-microhei (if missing; as root)
#   chromium.sh path      print the browser's path
set -euo pipefail
BROWSER=${PACELINE_CHROMIUM:-/usr/bin/chromium}
case ${1:-install} in
    install)
        missing=()
        [[ -x $BROWSER ]] || missing+=(chromium)
        fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || missing+=(fonts-wqy-microhei)
        if ((${#missing[@]})); then
            if [[ $(id -u) != 0 ]]; then
                echo "chromium.sh: need root to apt-get install ${missing[*]}" >&2
                exit 1
            fi
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q >/dev/null
            apt-get install -y -q "${missing[@]}" >/dev/null
        fi
        "$BROWSER" --version 2>/dev/null | head -1 || true
        ;;
    path) echo "$BROWSER" ;;
    *) echo "usage: chromium.sh install|path" >&2; exit 2 ;;
esac
