#!/usr/bin/env bash
# Peak RSS of the analyst over a store of N stored messages (default 10,000,000), measured on
# the real process: `smishtrap run` on SQLite (sensor, analyst and console; loopback ports)
# and, with SMISHTRAP_PG set, `smishtrap hub` on PostgreSQL (a fresh database, its own
# nats-server). Each is started twice on the same store: the first start clusters every
# message (the store is written unclustered: the worst case, every assignment changes); the
# second is a restart (features reloaded, a pass that carries every id over). A start ends at
# its first clustering pass (`clustering pass` in the debug log) with SIGINT; /usr/bin/time -v
# gives its peak RSS. On SQLite, `bench/lock-probe.py` meanwhile takes the store's write lock
# every 20 ms and reports the longest wait (what a sensor's event insert would have waited),
# and the store's debug log gives the clustering write's transactions and longest lock hold.
#
#   bench/analyst-memory-10m.sh [N [POOL]]      (needs python3, sqlite3, /usr/bin/time)
#
# The store is written by `examples/fixture_store.rs`, not `smishtrap import`: analysing
# 10,000,000 records takes hours on a shared 2-core machine, and the analyst's memory depends
# on the stored rows only. POOL records (default 200,000, `bench/analyze-1m.sh`'s generator,
# about a quarter smishing) are analysed by the real engine, and the N rows are copies of
# them with their own times, link domains and numbers (see the example's doc).
#
# SMISHTRAP_SCRATCH=DIR holds the pool and the store (default: a temporary directory, removed
#   at the end; a given DIR is kept, and a store already there is reused: delete it yourself).
# SMISHTRAP_PG=CONNINFO (e.g. `host=127.0.0.1 user=postgres dbname=postgres`): also on
#   PostgreSQL, in a fresh database `bench_mem_PID` (dropped at the end; needs psql,
#   nats-server).
# SMISHTRAP_PG_ONLY=1 skips SQLite.
# SMISHTRAP_BIN=path uses that binary (built with `--features hub` for PostgreSQL).
set -euo pipefail
N="${1:-10000000}"
POOL="${2:-200000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${SMISHTRAP_SCRATCH:-}" ]; then
  SCRATCH="$SMISHTRAP_SCRATCH"
  mkdir -p "$SCRATCH"
else
  SCRATCH="$(mktemp -d)"
  trap 'rm -rf "$SCRATCH"' EXIT
fi
PG="${SMISHTRAP_PG:-}"
if [ -z "${SMISHTRAP_BIN:-}" ]; then
  cargo build --profile eval -q -p smishtrap ${PG:+--features hub} --manifest-path "$ROOT/Cargo.toml"
fi
BIN="${SMISHTRAP_BIN:-$ROOT/target/eval/smishtrap}"
cargo build --profile eval -q -p smishtrap-analyst ${PG:+--features postgres} --example fixture_store \
  --manifest-path "$ROOT/Cargo.toml"
FIXTURE="$ROOT/target/eval/examples/fixture_store"

if ! { [ -s "$SCRATCH/pool.jsonl" ] && [ "$(wc -l < "$SCRATCH/pool.jsonl")" -eq "$POOL" ]; }; then
  SMISHTRAP_BIN=/bin/true SMISHTRAP_INPUT="$SCRATCH/pool.jsonl" "$ROOT/bench/analyze-1m.sh" "$POOL" > /dev/null
fi

# waits up to $3 s for $2 in file $1
wait_log() {
  local i
  for ((i = 0; i < $3; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 1
  done
  echo "timed out waiting for '$2' in $1" >&2
  tail -5 "$1" >&2
  return 1
}

# one start of "$@" under /usr/bin/time until its first clustering pass; prints the figures
measure() {
  local name="$1" log="$SCRATCH/$1.log"
  shift
  rm -f "$log" "$SCRATCH/probe.stop"
  local probe=""
  if [ -n "${PROBE_DB:-}" ]; then
    python3 "$ROOT/bench/lock-probe.py" "$PROBE_DB" "$SCRATCH/probe.stop" > "$SCRATCH/probe.txt" &
    probe=$!
  fi
  SMISHTRAP_LOG=info,smishtrap_analyst=debug,smishtrap_store=debug /usr/bin/time -v "$@" 2> "$log" &
  local pid=$!
  wait_log "$log" "clustering pass" 7200
  if [ -n "$probe" ]; then
    touch "$SCRATCH/probe.stop"
    wait "$probe" || true
  fi
  kill -INT "$(pgrep -P "$pid")" 2>/dev/null || true
  wait "$pid" || true
  echo "$name: $(grep -m1 'clustering pass' "$log" | sed 's/.*clustering pass//')"
  if grep -q 'clustering write' "$log"; then
    echo "$name: write: $(grep -m1 'clustering write' "$log" | sed 's/.*clustering write//')"
  fi
  if [ -n "$probe" ]; then
    echo "$name: $(cat "$SCRATCH/probe.txt")"
  fi
  grep -E "Maximum resident set size|Elapsed \(wall|User time|System time" "$log" | sed "s/^/$name: /"
}

DATA="$SCRATCH/data"
if [ -z "${SMISHTRAP_PG_ONLY:-}" ]; then
  if [ ! -f "$DATA/smishtrap.db" ]; then
    /usr/bin/time -v "$FIXTURE" "$SCRATCH/pool.jsonl" "$POOL" "$N" "$DATA" 2> "$SCRATCH/fixture.txt"
    grep -E "^(pool|wrote)|Elapsed \(wall" "$SCRATCH/fixture.txt"
  fi
  echo "sqlite store: $(sqlite3 "$DATA/smishtrap.db" 'SELECT count(*) FROM messages') messages, $(du -sh "$DATA" | cut -f1)"
  RUN=("$BIN" run --data "$DATA" --sensor-listen 127.0.0.1:0 --console-listen 127.0.0.1:0
    --console-token bench-token-0123456789)
  PROBE_DB="$DATA/smishtrap.db" measure "sqlite first pass" "${RUN[@]}"
  PROBE_DB="$DATA/smishtrap.db" measure "sqlite restart" "${RUN[@]}"
  echo "campaigns: $(sqlite3 "$DATA/smishtrap.db" 'SELECT count(*) FROM campaigns')"
fi

if [ -n "$PG" ]; then
  DB="bench_mem_$$"
  psql -q "$PG" -c "CREATE DATABASE $DB" > /dev/null
  HUB_PG="$PG dbname=$DB"
  NATS_PORT=$((20000 + $$ % 20000))
  nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$SCRATCH/js" > "$SCRATCH/nats.log" 2>&1 &
  NATS_PID=$!
  cleanup_pg() {
    kill "$NATS_PID" 2>/dev/null || true
    psql -q "$PG" -c "DROP DATABASE IF EXISTS $DB" > /dev/null || true
  }
  trap 'cleanup_pg; [ -n "${SMISHTRAP_SCRATCH:-}" ] || rm -rf "$SCRATCH"' EXIT
  /usr/bin/time -v "$FIXTURE" "$SCRATCH/pool.jsonl" "$POOL" "$N" --postgres "$HUB_PG" public \
    2> "$SCRATCH/fixture-pg.txt"
  grep -E "^(pool|wrote)|Elapsed \(wall" "$SCRATCH/fixture-pg.txt"
  echo "postgresql store: $(psql -qtA "$HUB_PG" -c 'SELECT count(*) FROM messages') messages, $(psql -qtA "$HUB_PG" -c "SELECT pg_size_pretty(pg_database_size('$DB'))")"
  HUB=(env SMISHTRAP_POSTGRES="$HUB_PG" "$BIN" hub --nats "nats://127.0.0.1:$NATS_PORT"
    --console 127.0.0.1:0 --console-token bench-token-0123456789)
  measure "postgresql hub first pass" "${HUB[@]}"
  measure "postgresql hub restart" "${HUB[@]}"
fi
