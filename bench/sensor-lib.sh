# Sourced by the sensor benchmarks (sensor-load.sh, sensor-instructions.sh, families-load.sh):
# a scratch directory and a sensor process cleaned up on exit, the load configuration, and
# starting a sensor until it listens. Loopback only.
#
# Sets TMP (removed on exit) and SENSOR_PID (the running sensor, stopped on exit).

TMP="$(mktemp -d)"
SENSOR_PID=""
sensor_cleanup() {
    if [ -n "$SENSOR_PID" ] && kill -0 "$SENSOR_PID" 2>/dev/null; then kill -TERM "$SENSOR_PID"; wait "$SENSOR_PID" || true; fi
    rm -rf "$TMP"
}
trap sensor_cleanup EXIT

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# sensor_config PERSONA [KEY=VALUE...]: one listener of PERSONA with the caps lifted for load
# (the load generator sends thousands of requests per second on each connection), plus the
# [limits] KEY=VALUEs given. $TMP/sensor.toml also lifts the per-source caps (all load comes
# from one address); $TMP/base.toml leaves them out, for older builds that lack those keys.
sensor_config() {
    local persona="$1" kv
    shift
    {
        printf '[[listener]]\nlisten = "127.0.0.1:0"\npersona = "%s"\n\n' "$persona"
        printf '[limits]\nmax_connections = 20000\nrequests_per_second = 1000000\n'
        printf 'request_burst = 1000000\nidle_timeout_secs = 300\n'
        for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
    } >"$TMP/base.toml"
    cp "$TMP/base.toml" "$TMP/sensor.toml"
    printf 'max_connections_per_ip = 1000000\nconnections_per_ip_per_second = 1000000\nconnection_burst_per_ip = 1000000\n' \
        >>"$TMP/sensor.toml"
}

# sensor_config_for BIN: prints the configuration BIN accepts ($TMP/sensor.toml, else base.toml).
sensor_config_for() {
    if "$1" sensor --config "$TMP/sensor.toml" --data "$TMP/check-data" --check-config >/dev/null 2>&1; then
        echo "$TMP/sensor.toml"
    else
        echo "$TMP/base.toml"
    fi
}

# sensor_start TENTHS COMMAND...: runs COMMAND (a sensor, possibly under a tool) in the
# background with SMISHTRAP_LOG=warn and its stderr in $TMP/sensor.err; waits up to TENTHS
# tenths of a second until it listens, then sets SENSOR_PID and ADDR (host:port).
sensor_start() {
    local tenths="$1"
    shift
    : >"$TMP/sensor.err"
    SMISHTRAP_LOG=warn "$@" 2>"$TMP/sensor.err" &
    SENSOR_PID=$!
    for _ in $(seq 1 "$tenths"); do grep -q '^listening on' "$TMP/sensor.err" && break; sleep 0.1; done
    ADDR="$(sed -n 's/^listening on \([^ ]*\) .*/\1/p' "$TMP/sensor.err" | head -1)"
    [ -n "$ADDR" ] || { cat "$TMP/sensor.err" >&2; exit 1; }
}

# sensor_stop: SIGTERM (in-flight requests finish, the pipeline flushes) and wait.
sensor_stop() {
    kill -TERM "$SENSOR_PID"
    wait "$SENSOR_PID"
    SENSOR_PID=""
}
