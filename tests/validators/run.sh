#!/usr/bin/env bash
# Runs the external validators on exports the real binary makes from a small fixture:
# OASIS stix2-validator on the STIX 2.1 bundle (TLP 2.0 marked), PyMISP MISPEvent().load()
# on the MISP events (per campaign and single) and on a MISP feed directory (manifest,
# hashes, one file per event). Exits non-zero on any error.
#
# usage: tests/validators/run.sh            (builds target/debug/smishtrap)
#        BIN=target/release/smishtrap tests/validators/run.sh
# Needs python3 with venv and network access to PyPI the first time (the venv is cached in
# target/validators-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${VENV:-target/validators-venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check stix2-validator pymisp

if [ -z "${BIN:-}" ]; then
    cargo build --quiet -p smishtrap
    BIN=target/debug/smishtrap
fi
FIXTURE=crates/smishtrap/tests/campaign_fixtures/small.jsonl
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

"$BIN" export --format stix "$FIXTURE" --out "$OUT/bundle.json"
"$BIN" export --format stix "$FIXTURE" --out "$OUT/bundle-again.json"
cmp "$OUT/bundle.json" "$OUT/bundle-again.json" || { echo "stix export is not deterministic" >&2; exit 1; }
"$BIN" export --format misp "$FIXTURE" --out "$OUT/misp"
"$BIN" export --format misp --misp-mode single "$FIXTURE" --out "$OUT/misp-single.json"
"$BIN" export --format misp-feed "$FIXTURE" --out "$OUT/feed"

"$VENV/bin/python" tests/validators/stix_check.py "$OUT/bundle.json"
"$VENV/bin/python" tests/validators/misp_check.py "$OUT"/misp/*.json "$OUT/misp-single.json"
"$VENV/bin/python" tests/validators/misp_feed_check.py "$OUT/feed"
echo "validators: ok"
