#!/usr/bin/env bash
# Instructions per send_sms request of `smishtrap sensor` with capture on (SQLite + JSONL, each
# event committed before its answer), counted by valgrind over every thread of the process:
# a run serving about 2N requests minus a run serving about N, divided by the difference of the
# sms.send events each run stored, so start-up, shutdown and the first-use work cancel out.
# Unlike req/s, the count does not move with other load on the machine, so two builds can be
# compared on a shared host.
#
#   bench/sensor-instructions.sh [N] BIN [BIN...]     (N defaults to 4000; needs valgrind, wrk)
#
# Env: CONNS=16 (connections), TOOL=callgrind (or cachegrind), KEEP=DIR (keep the profiles as
# DIR/<k>-<n>.out, k = the binary's position, for callgrind_annotate). Loopback only.
set -euo pipefail
N=4000
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then N="$1"; shift; fi
[ $# -ge 1 ] || { echo "usage: bench/sensor-instructions.sh [N] BIN [BIN...]" >&2; exit 2; }
CONNS="${CONNS:-16}"
TOOL="${TOOL:-callgrind}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
# shellcheck source=bench/sensor-lib.sh
source "$ROOT/bench/sensor-lib.sh"

# As bench/sensor-load.sh, with long header and body timeouts (valgrind is slow).
sensor_config milesight-ur32l header_timeout_secs=600 body_timeout_secs=600

# count BIN REQUESTS OUT: prints "instructions events"
count() {
    local bin="$1" requests="$2" out="$3" data="$TMP/data-$RANDOM" config
    config="$(sensor_config_for "$bin")"
    local opts=(--tool="$TOOL")
    if [ "$TOOL" = callgrind ]; then opts+=(--callgrind-out-file="$out"); else opts+=(--cache-sim=no --cachegrind-out-file="$out"); fi
    sensor_start 600 valgrind "${opts[@]}" "$bin" sensor --config "$config" --data "$data" --sensor-name bench
    SMISHTRAP_REQUESTS="$requests" wrk -t1 -c"$CONNS" -d3600s --timeout 60s \
        -s "$ROOT/bench/sensor-send-sms.lua" "http://$ADDR/cgi" >/dev/null || true
    sensor_stop
    local events total
    events="$("$bin" events --data "$data" --format jsonl --kind sms.send | wc -l)"
    # Both tools end their profile with "summary: <instructions> ...".
    total="$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out" | head -1)"
    rm -rf "$data"
    echo "$total $events"
}

OUT="${KEEP:-$TMP}"
mkdir -p "$OUT"
printf '%-4s %14s %8s %14s %8s %12s  %s\n' bin instr_n events instr_2n events instr/req binary
k=0
for bin in "$@"; do
    k=$((k + 1))
    read -r i1 e1 < <(count "$bin" "$N" "$OUT/$k-$N.out")
    read -r i2 e2 < <(count "$bin" "$((2 * N))" "$OUT/$k-$((2 * N)).out")
    [ "$e2" -gt "$e1" ] || { echo "no more events in the longer run ($e1, $e2)" >&2; exit 1; }
    printf '%-4s %14d %8d %14d %8d %12d  %s\n' "$k" "$i1" "$e1" "$i2" "$e2" $(((i2 - i1) / (e2 - e1))) "$bin"
done
