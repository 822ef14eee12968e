#!/usr/bin/env bash
# Targets per second and peak memory of `smishtrap audit` against a loopback fleet of N
# sensor listeners (the shipped milesight-ur32l persona: open API, leaky logs).
#
#   bench/audit-fleet.sh [N=500] [BIN=target/release/smishtrap] [CONCURRENCY=64]
set -euo pipefail
n=${1:-500}
bin=${2:-target/release/smishtrap}
concurrency=${3:-64}
work=$(mktemp -d /tmp/audit-fleet.XXXXXX)
trap 'kill "$sensor" 2>/dev/null || true; rm -rf "$work"' EXIT

: > "$work/fleet.toml"
for i in $(seq 0 $((n - 1))); do
    printf '[[listener]]\nlisten = "127.0.%d.%d:0"\npersona = "milesight-ur32l"\n' \
        $((1 + i / 250)) $((1 + i % 250)) >> "$work/fleet.toml"
done
"$bin" sensor --data "$work/data" --sensor-name bench --config "$work/fleet.toml" \
    2> "$work/sensor.log" &
sensor=$!
for _ in $(seq 600); do
    [ "$(grep -c '^listening on' "$work/sensor.log" || true)" -ge "$n" ] && break
    sleep 0.1
done
grep '^listening on' "$work/sensor.log" | awk '{print $3}' > "$work/targets.txt"
echo "$(wc -l < "$work/targets.txt") targets"
start=$(date +%s.%N)
/usr/bin/time -f 'audit: %e s wall, %M KiB max RSS' \
    "$bin" audit --targets "$work/targets.txt" --concurrency "$concurrency" --rate 1000 \
    --format jsonl --out "$work/report.jsonl" || true
end=$(date +%s.%N)
echo "targets/s: $(echo "$(wc -l < "$work/targets.txt") / ($end - $start)" | bc -l | cut -c1-6)"
tail -1 "$work/report.jsonl" | cut -c1-400
grep -m1 hostile-reply "$work/report.jsonl" | grep -o "\"evidence\":\[[^]]*\]" | head -2 || true
grep -c "shed\|limit" "$work/sensor.log" || true
grep -v "^listening" "$work/sensor.log" | tail -3
