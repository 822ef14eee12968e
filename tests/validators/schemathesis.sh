#!/usr/bin/env bash
# Checks that the console's REST API and its OpenAPI document agree, with schemathesis:
# valid and invalid requests generated from `crates/smishtrap-web/src/openapi.json` against a
# real console on a random loopback port over a seeded store (messages and campaigns imported
# from a fixture, events recorded by a real sensor). Every check is on: no 5xx, documented
# status codes, content types and response schemas, invalid input refused with 4xx, valid
# input accepted. Exits non-zero on any failure. Bounded to a few minutes.
#
# usage: tests/validators/schemathesis.sh            (builds target/debug/smishtrap)
#        BIN=target/release/smishtrap MAX_EXAMPLES=200 tests/validators/schemathesis.sh
# Needs python3 with venv and PyPI the first time (the venv is cached in
# target/schemathesis-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${VENV:-target/schemathesis-venv}
MAX_EXAMPLES=${MAX_EXAMPLES:-100}
SEED=${SEED:-12}
if [ ! -x "$VENV/bin/schemathesis" ]; then
    python3 -m venv "$VENV"
    # pinned with its generator, so a new release cannot change what a seed generates
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5" \
        "hypothesis==6.170.27"
fi

if [ -z "${BIN:-}" ]; then
    cargo build --quiet -p smishtrap
    BIN=target/debug/smishtrap
fi
DATA=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

# the address a server announced on stderr ("<prefix>127.0.0.1:PORT")
address() {
    local log=$1 prefix=$2
    for _ in $(seq 200); do
        local addr
        addr=$(grep -o "${prefix}127\.0\.0\.1:[0-9]*" "$log" | head -n 1 | sed "s|^${prefix}||" || true)
        if [ -n "$addr" ]; then
            echo "$addr"
            return 0
        fi
        sleep 0.05
    done
    echo "no address in $log:" >&2
    cat "$log" >&2
    return 1
}

# Seed: analysed messages and campaigns, then a few events from a real sensor.
"$BIN" import crates/smishtrap/tests/campaign_fixtures/small.jsonl --data "$DATA/store" >/dev/null 2>&1
"$BIN" sensor --data "$DATA/store" --listen 127.0.0.1:0 --sensor-name schemathesis \
    2>"$DATA/sensor.log" &
SENSOR=$!
PIDS+=("$SENSOR")
SENSOR_ADDR=$(address "$DATA/sensor.log" "listening on ")
for path in / /login.html "/cgi-bin/sms?to=%2B32470000000&text=hello" /api/v1/x; do
    curl -s -o /dev/null --max-time 5 "http://$SENSOR_ADDR$path" || true
done
curl -s -o /dev/null --max-time 5 -X POST -d 'username=admin&password=admin' \
    "http://$SENSOR_ADDR/login" || true
kill -INT "$SENSOR"
wait "$SENSOR" || true

TOKEN=schemathesis-token-0123456789
"$BIN" console --data "$DATA/store" --listen 127.0.0.1:0 --token "$TOKEN" 2>"$DATA/console.log" &
PIDS+=("$!")
CONSOLE_ADDR=$(address "$DATA/console.log" "http://")

# The live stream never ends by design: its answers are checked by the crate's tests.
timeout 600 "$VENV/bin/schemathesis" run crates/smishtrap-web/src/openapi.json \
    --url "http://$CONSOLE_ADDR" \
    --header "Authorization: Bearer $TOKEN" \
    --checks all \
    --exclude-path /api/v1/events/stream \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 20 \
    --no-color \
    --warnings off
echo "schemathesis: ok"
