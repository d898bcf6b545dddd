#!/usr/bin/env bash
# rehash.sh FILE.jsonl: recomputes every row_hash of a Nova audit export and checks the chain.
# Needs bash, jq and sha256sum (or openssl dgst -sha256). Exit 1 at the first bad line.
set -euo pipefail
export LC_ALL=C            # ${#v} counts bytes
prev=0000000000000000000000000000000000000000000000000000000000000000
first=1
while IFS= read -r line; do
    f() { jq -r ".$1" <<<"$line"; }
    enc=""
    for v in "nova-audit-v1" "$(f id)" "$(f seq)" "$(f ts)" "$(f tenant_id)" "$(f actor)" \
             "$(f action)" "$(f target)" "$(f decision)" "$(f attrs)" "$(f prev_hash)"; do
        enc+="${#v}:${v}"$'\n'
    done
    h=$(printf '%s' "$enc" | sha256sum | cut -d' ' -f1)
    [ "$h" = "$(f row_hash)" ] || { echo "seq $(f seq): row_hash mismatch"; exit 1; }
    [ "$first" = 1 ] || [ "$(f prev_hash)" = "$prev" ] || { echo "seq $(f seq): chain broken"; exit 1; }
    prev=$h first=0
done <"$1"
echo "ok: last row_hash $prev"
