#!/usr/bin/env bash
# Throughput of one persona of each router family under bench/sensor-load.sh-style load: the
# sensor with capture on (SQLite, every event committed before its answer), wrk sending that
# family's SMS send shape with a new recipient per request, then a check that the store holds
# every answered request. Loopback only.
#
#   bench/families-load.sh [SECONDS] [CONNECTIONS]   (default 10 s, 64 connections)
#
# Needs wrk and curl. Env: SMISHTRAP_BIN=path (default: target/eval/smishtrap, built with
# `cargo build --profile eval -p smishtrap` when missing), THREADS=2.
set -euo pipefail
DURATION="${1:-10}"
CONNS="${2:-64}"
THREADS="${THREADS:-2}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${SMISHTRAP_BIN:-$ROOT/target/eval/smishtrap}"
[ -x "$BIN" ] || cargo build --profile eval -q -p smishtrap --manifest-path "$ROOT/Cargo.toml"
# shellcheck source=bench/sensor-lib.sh
source "$ROOT/bench/sensor-lib.sh"

start() {
    local persona="$1"; shift
    rm -rf "$TMP/data"
    sensor_config "$persona" header_timeout_secs=60
    sensor_start 100 "$BIN" sensor --config "$TMP/sensor.toml" --data "$TMP/data" --sensor-name bench "$@"
}

stop_and_count() {
    sensor_stop
    "$BIN" events --data "$TMP/data" --format jsonl --kind sms.send | wc -l
}

run() {
    local persona="$1"; shift
    local out line req dur stored
    out="$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$ROOT/bench/families-send.lua" "http://$ADDR/" -- "$@")"
    line="$(grep '^RESULT' <<<"$out")"
    get() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $line"; }
    req="$(get requests)"; dur="$(get duration_us)"
    stored="$(stop_and_count)"
    awk -v p="$persona" -v d="$DIALECT" -v r="$req" -v t="$dur" -v p50="$(get p50_us)" -v p99="$(get p99_us)" -v s="$stored" \
        'BEGIN { printf "%-18s %-10s %10.0f %9.2f %9.2f %10d %10d\n", p, d, r/(t/1e6), p50/1e3, p99/1e3, r, s }'
}

echo "$(nproc) cores shared with wrk; $CONNS connections, ${DURATION} s per persona; binary $BIN"
printf '%-18s %-10s %10s %9s %9s %10s %10s\n' persona dialect req/s p50_ms p99_ms completed stored

DIALECT=milesight; start milesight-ur32l
run milesight-ur32l POST /cgi '{"id":"1","execute":1,"function":"send_sms","values":[{"base":"api_sms","phone_number":"+3247{n}","content":"Uw eBox-bericht wacht: hxxps://example[.]invalid/{n}"}]}' "Content-Type: application/json"

DIALECT=hilink; start huawei-e3372h
TOK="$(curl -s -c "$TMP/jar" "http://$ADDR/api/webserver/SesTokInfo")"
SES="$(sed -n 's/.*<SesInfo>\(.*\)<\/SesInfo>.*/\1/p' <<<"$TOK" | tr -d '\r\n')"
TOKEN="$(sed -n 's/.*<TokInfo>\(.*\)<\/TokInfo>.*/\1/p' <<<"$TOK" | tr -d '\r\n')"
run huawei-e3372h POST /api/sms/send-sms '<?xml version="1.0" encoding="UTF-8"?><request><Index>-1</Index><Phones><Phone>+3247{n}</Phone></Phones><Sca></Sca><Content>Uw pakket: hxxps://example[.]invalid/{n} &amp; meer</Content><Length>-1</Length><Reserved>1</Reserved><Date>-1</Date></request>' "Cookie: $SES" "__RequestVerificationToken: $TOKEN" "Content-Type: application/xml"

DIALECT=goform; start zte-mf823
run zte-mf823 GET '/goform/goform_set_cmd_process?isTest=false&goformId=SEND_SMS&Number=%2B3247{n}&sms_time=25%3B12%3B06%3B10%3B00%3B00%3B%2B1&MessageBody=0055007700200070616B006B00650074&ID=-1&encode_type=GSM7_default' '' "Referer: http://192.168.0.1/index.html"

DIALECT=teltonika; start teltonika-rut950
run teltonika-rut950 GET '/cgi-bin/sms_send?username=user1&password=user_pass&number=003247{n}&text=Uw%20pakket%3A%20hxxps%3A%2F%2Fexample%5B.%5Dinvalid%2F{n}' ''

DIALECT=netgear; start netgear-lb2120
MODEL="$(curl -s -c "$TMP/jar2" "http://$ADDR/model.json")"
SEC="$(sed -n 's/.*"secToken":"\([^"]*\)".*/\1/p' <<<"$MODEL")"
COOKIE="$(awk '$6 == "sessionId" { print "sessionId=" $7 }' "$TMP/jar2")"
# Without the admin password: the refused send (302 to /error.json), still recorded.
run netgear-lb2120 POST /Forms/smsSendMsg "sms.sendMsg.receiver=%2B3247{n}&sms.sendMsg.text=Uw+pakket%3A+hxxps%3A%2F%2Fexample%5B.%5Dinvalid%2F{n}&sms.sendMsg.clientId=bench&action=send&token=$SEC" "Cookie: $COOKIE" "Content-Type: application/x-www-form-urlencoded"

# TP-Link: the key from getParm, a login as the public clients make it (raw RSA with python3's
# integers, AES-128-CBC with openssl), the TokenID from the home page; then act frames.
tp_key=1733480000000123; tp_iv=1733480000000456
tp_hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
tp_aes() { printf '%s' "$1" | openssl enc -aes-128-cbc -K "$(tp_hex $tp_key)" -iv "$(tp_hex $tp_iv)" -base64 -A; }
tp_rsa() { python3 -c 'import sys
n, e, text = int(sys.argv[1], 16), int(sys.argv[2], 16), sys.argv[3].encode()
k = (n.bit_length() + 7) // 8
print("".join(format(pow(int.from_bytes(text[i:i + k].ljust(k, b"\0"), "big"), e, n), "0%dx" % (2 * k)) for i in range(0, len(text), k)))' "$NN" "$EE" "$1"; }
tp_login() {
    local parm user="admin" pass="$1" data
    parm="$(curl -s -c "$TMP/tpjar" -H "Referer: http://$ADDR/" -X POST "http://$ADDR/cgi/getParm")"
    EE="$(sed -n 's/.*ee="\([0-9A-F]*\)".*/\1/p' <<<"$parm")"; NN="$(sed -n 's/.*nn="\([0-9A-F]*\)".*/\1/p' <<<"$parm")"
    SEQ="$(sed -n 's/.*seq="\([0-9]*\)".*/\1/p' <<<"$parm")"
    if [ -n "$SEQ" ]; then
        data="$(tp_aes "$user"$'\n'"$pass")"
        local sign; sign="$(tp_rsa "key=$tp_key&iv=$tp_iv&h=x&s=$((SEQ + ${#data}))")"
        curl -s -b "$TMP/tpjar" -c "$TMP/tpjar" -H "Referer: http://$ADDR/" -X POST \
            "http://$ADDR/cgi/login?data=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$data")&sign=$sign&Action=1&LoginStatus=0" >/dev/null
    else
        local u p
        u="$(tp_rsa "$(printf '%s' "$user" | base64)")"; p="$(tp_rsa "$(printf '%s' "$pass" | base64)")"
        curl -s -b "$TMP/tpjar" -c "$TMP/tpjar" -H "Referer: http://$ADDR/" -X POST "http://$ADDR/cgi/login?UserName=$u&Passwd=$p&Action=1&LoginStatus=0" >/dev/null
    fi
    TPCOOKIE="$(awk '$6 == "JSESSIONID" { print "JSESSIONID=" $7 }' "$TMP/tpjar")"
    TPTOKEN="$(curl -s -b "$TMP/tpjar" "http://$ADDR/" | sed -n 's/.*token="\([0-9a-f]*\)".*/\1/p')"
    [ -n "$TPTOKEN" ] || { echo "tplink login failed" >&2; exit 1; }
}

# The Archer MR600's password is made per unit: a copy of its persona with a known one.
mkdir -p "$TMP/personas/tplink"
cp "$ROOT"/crates/smishtrap-sensor/personas/tplink/* "$TMP/personas/tplink/"
sed 's/^usernames = \["admin"\]$/usernames = ["admin"]\ndefault_password = "bench-password"/' \
    "$ROOT/crates/smishtrap-sensor/personas/tplink-mr600.toml" >"$TMP/personas/tplink-mr600.toml"
DIALECT=tplink_gdpr; start tplink-mr600 --personas "$TMP/personas"
tp_login bench-password
# An encrypted frame carries no {n}: every request sends the same frame (decrypted, answered
# encrypted); the sign's `s` is the sequence plus the length of the data.
FRAME=$'2\r\n[LTE_SMS_SENDNEWMSG#0,0,0,0,0,0#0,0,0,0,0,0]0,3\r\nindex=1\r\nto=+32470000001\r\ntextContent=Uw pakket: hxxps://example[.]invalid/1\r\n'
DATA="$(tp_aes "$FRAME")"
SIGN="$(tp_rsa "h=x&s=$((SEQ + ${#DATA}))")"
run tplink-mr600 POST /cgi_gdpr "sign=$SIGN"$'\r\n'"data=$DATA"$'\r\n' "Referer: http://$ADDR/" "Cookie: $TPCOOKIE" "TokenID: $TPTOKEN" "Content-Type: text/plain"

DIALECT=tplink_cgi; start tplink-mr6400
tp_login admin
run tplink-mr6400 POST '/cgi?2' $'[LTE_SMS_SENDNEWMSG#0,0,0,0,0,0#0,0,0,0,0,0]0,3\r\nindex=1\r\nto=+3247{n}\r\ntextContent=Uw pakket: hxxps://example[.]invalid/{n}\r\n' "Referer: http://$ADDR/" "Cookie: $TPCOOKIE" "TokenID: $TPTOKEN" "Content-Type: text/plain"
