#!/usr/bin/env bash
# Load benchmark of `smishtrap sensor` with capture on (SQLite primary + JSONL, every event
# committed before its answer). Drives it with wrk posting send_sms bodies, then checks that the
# store holds every answered request, then measures RSS with idle connections.
#
#   bench/sensor-load.sh [SECONDS] [CONNECTIONS...]   (default 15 s; 16 64 256 connections)
#
# Needs: wrk (Debian package `wrk`), python3. Loopback only. Run from anywhere; builds release.
# Env: IDLE=10000 (idle connections for the RSS figure), THREADS=2 (wrk threads),
# SMISHTRAP_BIN=path (or BIN=path): benchmark that binary instead of building release, e.g.
# target/eval/smishtrap, or two builds compared in one run.
set -euo pipefail
DURATION="${1:-15}"
shift || true
CONNS=("$@")
[ ${#CONNS[@]} -eq 0 ] && CONNS=(16 64 256)
IDLE="${IDLE:-10000}"
THREADS="${THREADS:-2}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/sensor-lib.sh
source "$ROOT/bench/sensor-lib.sh"

if [ -n "${SMISHTRAP_BIN:-${BIN:-}}" ]; then
    BIN="${SMISHTRAP_BIN:-$BIN}"
else
    cargo build --release -q -p smishtrap --manifest-path "$ROOT/Cargo.toml"
    BIN="$ROOT/target/release/smishtrap"
fi

sensor_config milesight-ur32l header_timeout_secs=60
sensor_start 100 "$BIN" sensor --config "$(sensor_config_for "$BIN")" --data "$TMP/data" --sensor-name bench
echo "sensor pid $SENSOR_PID on $ADDR, data in $TMP/data, $(nproc) cores shared with wrk"

TOTAL=0
printf '%-6s %10s %10s %9s %9s %9s %9s %8s\n' conns req/s requests p50_ms p90_ms p99_ms p999_ms non2xx
for c in "${CONNS[@]}"; do
    out="$(wrk -t"$THREADS" -c"$c" -d"${DURATION}s" --timeout 10s -s "$ROOT/bench/sensor-send-sms.lua" "http://$ADDR/cgi")"
    line="$(grep '^RESULT' <<<"$out")"
    get() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $line"; }
    req="$(get requests)"; dur="$(get duration_us)"
    TOTAL=$((TOTAL + req))
    awk -v c="$c" -v r="$req" -v d="$dur" -v p50="$(get p50_us)" -v p90="$(get p90_us)" -v p99="$(get p99_us)" \
        -v p999="$(get p999_us)" -v n="$(get non2xx)" \
        'BEGIN { printf "%-6s %10.0f %10d %9.2f %9.2f %9.2f %9.2f %8d\n", c, r/(d/1e6), r, p50/1e3, p90/1e3, p99/1e3, p999/1e3, n }'
    errs="$(get connect_errors) $(get read_errors) $(get write_errors) $(get timeouts)"
    [ "$errs" = "0 0 0 0" ] || echo "  socket errors (connect read write timeout): $errs"
done

echo
python3 "$ROOT/bench/idle-connections.py" 127.0.0.1 "${ADDR##*:}" "$IDLE" "$SENSOR_PID" silent
python3 "$ROOT/bench/idle-connections.py" 127.0.0.1 "${ADDR##*:}" "$IDLE" "$SENSOR_PID" after-request
IDLE_REQUESTS="$IDLE"

# Graceful stop: in-flight requests finish, the pipeline flushes.
sensor_stop
STORED="$("$BIN" events --data "$TMP/data" --format jsonl | wc -l)"
SENDS="$("$BIN" events --data "$TMP/data" --format jsonl --kind sms.send | wc -l)"
echo
echo "completed by wrk: $TOTAL send_sms requests (+ $IDLE_REQUESTS page loads on idle connections)"
echo "stored events:    $SENDS sms.send ($STORED in all)"
# wrk does not count requests still in flight when its timer stops; the sensor answered and
# stored those, so the store may hold up to one extra request per connection and run.
EXTRA=$((SENDS - TOTAL))
MAXEXTRA=0; for c in "${CONNS[@]}"; do MAXEXTRA=$((MAXEXTRA + c)); done
if [ "$EXTRA" -ge 0 ] && [ "$EXTRA" -le "$MAXEXTRA" ]; then
    echo "OK: every completed request is stored ($EXTRA more answered while wrk stopped, at most $MAXEXTRA possible)"
else
    echo "MISMATCH: stored - completed = $EXTRA" >&2
    exit 1
fi
grep -E 'not recorded|ERROR' "$TMP/sensor.err" || true
