#!/usr/bin/env bash
# Fleet benchmark (issue 15): three `smishtrap sensor` processes forwarding to a
# `nats-server -js`, two `smishtrap hub` processes (one runs the analysis, the other serves the
# console) and PostgreSQL, all on this machine. Measures
#   1. events/s from the three sensors into PostgreSQL (wrk posting send_sms to every sensor
#      for LOAD seconds; rate = rows stored / time from the first request to the last row),
#   2. capture-to-console latency p50/p99 on the hub: a send_sms answered by a sensor until
#      its analysed, clustered message is listed by the hub's API (`/api/v1/messages?text=REF`,
#      polled every 10 ms), SENDS sends one after the other, round robin over the sensors,
#   3. catch-up after a NATS outage: NATS killed, wrk on every sensor for OUTAGE seconds
#      (the sensors answer and spool), NATS restarted on its store; the time until the first
#      spooled event and until the last one is in PostgreSQL, and the rate in between.
#
#   bench/hub-fleet.sh [LOAD_SECONDS [OUTAGE_SECONDS [SENDS]]]     (default 20 30 100)
#
# Needs: nats-server and wrk (Debian packages), python3, psql, a PostgreSQL server
# (SMISHTRAP_POSTGRES, default `host=127.0.0.1 user=postgres dbname=postgres`; the benchmark
# works in its own schema and drops it). Loopback only. Builds the `eval` profile with the
# `hub` feature unless SMISHTRAP_BIN=path is given. Env: CONNS=8 (wrk connections per sensor).
set -euo pipefail
LOAD="${1:-20}"
OUTAGE="${2:-30}"
SENDS="${3:-100}"
CONNS="${CONNS:-8}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$(mktemp -d)"
export SMISHTRAP_POSTGRES="${SMISHTRAP_POSTGRES:-host=127.0.0.1 user=postgres dbname=postgres}"
SCHEMA="bench_fleet_$$"
TOKEN="bench-fleet-token-0123456789"
PIDS=()
NATS_PID=""
cleanup() {
    for pid in "${PIDS[@]}" $NATS_PID; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q "$SMISHTRAP_POSTGRES" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

for tool in nats-server wrk psql python3; do
    command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done
if [ -n "${SMISHTRAP_BIN:-}" ]; then
    BIN="$SMISHTRAP_BIN"
else
    cargo build -q --profile eval --features hub -p smishtrap --manifest-path "$ROOT/Cargo.toml"
    BIN="$ROOT/target/eval/smishtrap"
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
rows() { psql -qtA "$SMISHTRAP_POSTGRES" -c "SELECT count(*) FROM $SCHEMA.events" 2>/dev/null || echo 0; }
wait_log() { # FILE PATTERN SECONDS
    for _ in $(seq 1 $(($3 * 10))); do grep -q "$2" "$1" && return 0; sleep 0.1; done
    echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

NATS_PORT="$(free_port)"
start_nats() {
    nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$TMP/js" >>"$TMP/nats.log" 2>&1 &
    NATS_PID=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT") 2>/dev/null && return 0; sleep 0.1; done
    echo "nats-server did not start" >&2; exit 1
}
start_nats
NATS="nats://127.0.0.1:$NATS_PORT"

SMISHTRAP_LOG=info "$BIN" hub --nats "$NATS" --schema "$SCHEMA" 2>"$TMP/hub-a.log" &
PIDS+=($!)
wait_log "$TMP/hub-a.log" "hub consuming stream" 60
CONSOLE_PORT="$(free_port)"
SMISHTRAP_LOG=info "$BIN" hub --nats "$NATS" --schema "$SCHEMA" --no-analyst \
    --console "127.0.0.1:$CONSOLE_PORT" --console-token "$TOKEN" --data "$TMP/hub" 2>"$TMP/hub-b.log" &
PIDS+=($!)
wait_log "$TMP/hub-b.log" "console listening" 60

# All load comes from one address: lift the sensors' per-source caps.
cat >"$TMP/sensor.toml" <<TOML
[limits]
max_connections = 20000
requests_per_second = 1000000
request_burst = 1000000
max_connections_per_ip = 1000000
connections_per_ip_per_second = 1000000
connection_burst_per_ip = 1000000
TOML
SENSOR_ADDRS=()
for i in 1 2 3; do
    port="$(free_port)"
    SMISHTRAP_LOG=warn "$BIN" sensor --config "$TMP/sensor.toml" --data "$TMP/s$i" --sensor-name "bench-$i" \
        --listen "127.0.0.1:$port" --persona milesight-ur32l --forward "$NATS" 2>"$TMP/s$i.log" &
    PIDS+=($!)
    SENSOR_ADDRS+=("127.0.0.1:$port")
done
for i in 1 2 3; do wait_log "$TMP/s$i.log" "listening on" 60; done
echo "bin $BIN; $(nproc) cores shared by wrk, 3 sensors, NATS, 2 hubs, PostgreSQL (load $(cut -d' ' -f1-3 /proc/loadavg))"

# wrk on every sensor for $1 seconds: prints the requests answered 2xx in all.
load() {
    local secs="$1" total=0 i=0 line req non
    local wrks=()
    for a in "${SENSOR_ADDRS[@]}"; do
        i=$((i + 1))
        wrk -t1 -c"$CONNS" -d"${secs}s" --timeout 10s -s "$ROOT/bench/sensor-send-sms.lua" "http://$a/cgi" >"$TMP/wrk$i.out" 2>&1 &
        wrks+=($!)
    done
    wait "${wrks[@]}"
    for j in 1 2 3; do
        line="$(grep '^RESULT' "$TMP/wrk$j.out")"
        req="$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<" $line")"
        non="$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<" $line")"
        total=$((total + req - non))
    done
    echo "$total"
}
# Polls PostgreSQL until it holds at least $1 events; prints the time it first did.
until_rows() {
    local want="$1"
    while [ "$(rows)" -lt "$want" ]; do sleep 0.05; done
    now
}

echo
echo "== 1. events/s from three sensors into PostgreSQL ($LOAD s of wrk, $CONNS connections per sensor)"
base="$(rows)"
t0="$(now)"
answered="$(load "$LOAD")"
t_load="$(now)"
t_done="$(until_rows $((base + answered)))"
stored=$(($(rows) - base))
awk -v a="$answered" -v s="$stored" -v t0="$t0" -v tl="$t_load" -v td="$t_done" 'BEGIN {
    printf "sensors answered %d sends (%.0f/s); PostgreSQL stored %d events, the last %.1f s after the load ended: %.0f events/s\n",
        a, a / (tl - t0), s, td - tl, s / (td - t0) }'

echo
echo "== 2. capture-to-console latency ($SENDS sends, one at a time, until the hub's API lists the analysed message)"
# Let the analysis of phase 1 drain first, so the figure is the idle-pipeline latency.
for _ in $(seq 1 600); do
    a="$(psql -qtA "$SMISHTRAP_POSTGRES" -c "SELECT (SELECT coalesce(max(seq),0) FROM $SCHEMA.events) - coalesce((SELECT value FROM $SCHEMA.cursors WHERE name = 'analysed-events'),0)" 2>/dev/null || echo 1)"
    [ "$a" -le 0 ] && break
    sleep 1
done
python3 - "$CONSOLE_PORT" "$TOKEN" "$SENDS" "${SENSOR_ADDRS[@]}" <<'PY'
import http.client, json, sys, time, urllib.parse
port, token, n, sensors = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
lure = "bpost: uw pakket wacht op verzending. Betaal 1,99 EUR via https://bpost-be.delivery-fee.info/pay ref "
console = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conns = [http.client.HTTPConnection(a.split(":")[0], int(a.split(":")[1]), timeout=10) for a in sensors]
lat = []
for i in range(n):
    ref = f"lat{time.time_ns()}x{i}"
    body = json.dumps({"id": i, "execute": 1, "function": "send_sms", "values": [{
        "base": "api_sms", "phone_number": f"+32470{i % 10}{i:05d}", "content": lure + ref}]})
    c = conns[i % len(conns)]
    t0 = time.monotonic()
    c.request("POST", "/cgi", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
    path = "/api/v1/messages?text=" + urllib.parse.quote(ref)
    while True:
        console.request("GET", path, headers={"Authorization": "Bearer " + token})
        resp = console.getresponse(); got = json.loads(resp.read() or b"{}")
        if got.get("messages"):
            break
        if time.monotonic() - t0 > 120:
            sys.exit(f"send {i} not listed after 120 s")
        time.sleep(0.01)
    lat.append(time.monotonic() - t0)
lat.sort()
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
print(f"capture-to-console: p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms, max {lat[-1]*1000:.0f} ms over {len(lat)} sends")
PY

echo
echo "== 3. catch-up after a ${OUTAGE} s NATS outage (wrk on every sensor meanwhile)"
base="$(rows)"
kill -KILL "$NATS_PID"; wait "$NATS_PID" 2>/dev/null || true
answered="$(load "$OUTAGE")"
during=$(($(rows) - base))
t_restart="$(now)"
start_nats
t_first="$(until_rows $((base + during + 1)))"
t_done="$(until_rows $((base + answered)))"
awk -v a="$answered" -v d="$during" -v tr="$t_restart" -v tf="$t_first" -v td="$t_done" 'BEGIN {
    printf "spooled %d events while NATS was down (%d reached PostgreSQL before the kill took effect); first spooled event stored %.1f s after the restart (forwarder back-off), all %.1f s after it: catch-up %.0f events/s once flowing\n",
        a - d, d, tf - tr, td - tr, (a - d) / (td - tf) }'
grep -hE 'ERROR|panicked' "$TMP"/s?.log "$TMP"/hub-?.log | head -5 || true
