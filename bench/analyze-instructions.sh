#!/usr/bin/env bash
# Instructions per message of `smishtrap analyze` in steady state, counted by valgrind's
# cachegrind: the run over 2N records minus the run over N, divided by N, so start-up and
# first-use work (engine load, phone-number patterns of each new region) cancel out.
# Unlike wall time, the count does not move with other load on the machine, so it can
# judge a change of a few percent on a shared host.
#
#   bench/analyze-instructions.sh FILE.jsonl [N]     (N defaults to 20000; needs valgrind)
#
# Use records made by bench/analyze-1m.sh (SMISHTRAP_INPUT=FILE keeps them).
# SMISHTRAP_BIN=path measures an existing binary instead of building one.
set -euo pipefail
INPUT="${1:?usage: bench/analyze-instructions.sh FILE.jsonl [N]}"
N="${2:-20000}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${SMISHTRAP_BIN:-}" ]; then
  cargo build --release -q -p smishtrap --manifest-path "$ROOT/Cargo.toml"
fi
BIN="${SMISHTRAP_BIN:-$ROOT/target/release/smishtrap}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
head -n "$N" "$INPUT" > "$TMP/n.jsonl"
head -n "$((2 * N))" "$INPUT" > "$TMP/2n.jsonl"
[ "$(wc -l < "$TMP/2n.jsonl")" -eq "$((2 * N))" ] || { echo "need $((2 * N)) records in $INPUT" >&2; exit 1; }
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$BIN" analyze --jobs 1 --no-campaigns "$1" 2>&1 >/dev/null \
    | sed 's/,//g' | awk '/I *refs/ {print $NF}'
}
A=$(count "$TMP/n.jsonl")
B=$(count "$TMP/2n.jsonl")
echo "$(( (B - A) / N )) instructions per message (records $N to $((2 * N)))"
