#!/usr/bin/env bash
# Fetch the dashboard's chart library from the npm registry and check (or refresh) the copy
# committed under static/vendor/: the published build file, unchanged, with its licence.
#
#   vendor.sh            fetch chart.js@<version in VENDOR.json>; fail unless the committed
#                        file is byte-for-byte the published one
#   vendor.sh --update   write the fetched file, licence and checksum into static/vendor/
#
# Needs node's npm (the npm registry); nothing else. npm verifies the tarball's integrity.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vendor=$here/static/vendor
version=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['chart.js']['version'])" "$vendor/VENDOR.json")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "chart.js@$version" >/dev/null && tar xzf "chart.js-$version.tgz")
fetched=$tmp/package/dist/chart.umd.min.js
sum=$(sha256sum "$fetched" | cut -d' ' -f1)
if [[ ${1:-} == --update ]]; then
    cp "$fetched" "$vendor/chart.umd.min.js"
    cp "$tmp/package/LICENSE.md" "$vendor/chart.js-LICENSE.md"
    python3 - "$vendor/VENDOR.json" "$sum" <<'PY'
import json, sys
path, digest = sys.argv[1], sys.argv[2]
data = json.load(open(path))
data["chart.js"]["file_sha256"] = digest
json.dump(data, open(path, "w"), indent=2)
open(path, "a").write("\n")
PY
    echo "vendored chart.js $version ($sum)"
    exit 0
fi
committed=$(sha256sum "$vendor/chart.umd.min.js" | cut -d' ' -f1)
if [[ $committed != "$sum" ]]; then
    echo "static/vendor/chart.umd.min.js differs from chart.js@$version on npm ($committed != $sum)" >&2
    exit 1
fi
echo "static/vendor/chart.umd.min.js is chart.js@$version as published ($sum)"
