#!/usr/bin/env bash
# Leave-one-source-out evaluation of `analyze` against the TF-IDF + logistic-regression
# baseline. For each real-*-dev.jsonl: train the text model on every other dev corpus (and
# our own hand-written messages), score the held-out file through the real `analyze` with
# that model (`--model FILE`, via eval-analysis), and train/score the baseline the same way.
#
#   bench/loso.sh [FILE...]      (default: every ../shared/data/real-*-dev.jsonl)
#
# Needs python3; the baseline needs scikit-learn (SMISHTRAP_SKLEARN_PYTHON=/path/to/python
# of a venv with it; default python3). Builds with the `eval` profile. Models go to a temp
# dir, not the repo. Prints one table: smishing F1, unwanted F1, ham false-positive rate.
# SMISHTRAP_BIN=path scores an existing binary (e.g. main's, for a before/after in one run).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${SMISHTRAP_DATA:-$ROOT/../shared/data}"
TOOLS="${SMISHTRAP_TOOLS:-$ROOT/../shared/tools}"
PY="${SMISHTRAP_SKLEARN_PYTHON:-python3}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

if [ -z "${SMISHTRAP_BIN:-}" ]; then
  cargo build -q --profile eval --manifest-path "$ROOT/Cargo.toml" -p smishtrap --bin smishtrap
fi
cargo build -q --profile eval --manifest-path "$ROOT/Cargo.toml" -p smishtrap-intel --example train
BIN="${SMISHTRAP_BIN:-$TARGET/eval/smishtrap}"
TRAIN="$TARGET/eval/examples/train"

if [ "$#" -eq 0 ]; then set -- "$DATA"/real-*-dev.jsonl; fi
for f in "$@"; do
  name="$(basename "$f")"
  "$TRAIN" --data "$DATA" --leave-out "$name" --out "$TMP/$name.bin" 2>/dev/null
  # eval-analysis runs `BIN analyze --format jsonl FILE`: a wrapper adds the model
  printf '#!/bin/sh\nexec "%s" "$@" --model "%s"\n' "$BIN" "$TMP/$name.bin" > "$TMP/bin"
  chmod +x "$TMP/bin"
  python3 "$TOOLS/eval-analysis" --json --bin "$TMP/bin" "$f" > "$TMP/$name.ours.json"
  "$PY" "$TOOLS/baseline-sklearn" --leave-out "$name" "$f" > "$TMP/$name.base.txt"
done

python3 - "$TMP" "$@" <<'PY'
import json, os, sys
tmp, files = sys.argv[1], sys.argv[2:]
keys = ("smishing_f1", "unwanted_f1", "ham_false_positive_rate")
print(f"{'held-out file':32} {'':9} {'smish F1':>9} {'unw. F1':>9} {'ham FPR':>9}")
for f in files:
    name = os.path.basename(f)
    ours = json.load(open(f"{tmp}/{name}.ours.json"))[name]
    base = {}
    for line in open(f"{tmp}/{name}.base.txt"):
        parts = line.split()
        if len(parts) == 2:
            base[parts[0]] = float(parts[1])
    for who, m in (("smishtrap", ours), ("baseline", base)):
        cells = [f"{m[k]:9.4f}" if k in m else f"{'-':>9}" for k in keys]
        print(f"{name if who == 'smishtrap' else '':32} {who:9} {' '.join(cells)}")
PY
