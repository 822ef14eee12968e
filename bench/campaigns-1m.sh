#!/usr/bin/env bash
# Campaign clustering on 1,000,000 SMS records made by mutating the dev corpus.
#
# Records: shifted copies of ../shared/data/smish-dev.jsonl (bench/gen-campaign-records.py).
# Prints the wall time of:
#   1. `smishtrap campaigns` (read + analyse + cluster), with the clustering time alone
#      from the debug log;
#   2. `smishtrap analyze --format jsonl` with and without the campaign pass.
#
# usage: bench/campaigns-1m.sh [RECORDS]     (default 1000000; BIN=... to pick a binary)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
CORPUS=${CORPUS:-../shared/data/smish-dev.jsonl}
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet -p smishtrap
    BIN=target/release/smishtrap
fi
DIR=$(mktemp -d)
# peak memory via GNU time when present
TIME=()
if [ -x /usr/bin/time ]; then TIME=(/usr/bin/time -f "peak RSS %M KiB" -a -o "$DIR/rss.log"); fi
trap 'rm -rf "$DIR"' EXIT

python3 bench/gen-campaign-records.py "$CORPUS" "$N" "$DIR/records.jsonl"
echo "records: $(wc -l < "$DIR/records.jsonl") ($(du -h "$DIR/records.jsonl" | cut -f1))"

t0=$(date +%s.%N)
SMISHTRAP_LOG=smishtrap=debug "${TIME[@]}" "$BIN" campaigns --format json "$DIR/records.jsonl" > "$DIR/campaigns.json" 2> "$DIR/campaigns.log"
t1=$(date +%s.%N)
echo "campaigns (read + analyse + cluster): $(echo "$t1 - $t0" | bc) s, $(python3 -c "import json;print(len(json.load(open('$DIR/campaigns.json'))['campaigns']))") campaigns"
grep -o 'clustered.*' "$DIR/campaigns.log" | sed 's/\x1b\[[0-9;]*m//g' || true

t0=$(date +%s.%N)
"${TIME[@]}" "$BIN" analyze --format jsonl --no-campaigns "$DIR/records.jsonl" > /dev/null
t1=$(date +%s.%N)
SMISHTRAP_LOG=smishtrap=debug "${TIME[@]}" "$BIN" analyze --format jsonl "$DIR/records.jsonl" 2> "$DIR/analyze.log" > "$DIR/analyze.jsonl"
t2=$(date +%s.%N)
echo "analyze --no-campaigns: $(echo "$t1 - $t0" | bc) s"
echo "analyze with campaign pass: $(echo "$t2 - $t1" | bc) s ($(grep -c '"campaign":"' "$DIR/analyze.jsonl") records in campaigns)"
grep -o 'clustered.*' "$DIR/analyze.log" | sed 's/\x1b\[[0-9;]*m//g' || true
[ -f "$DIR/rss.log" ] && { echo "peak memory (campaigns, analyze --no-campaigns, analyze):"; cat "$DIR/rss.log"; }
