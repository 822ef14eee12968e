#!/usr/bin/env python3
"""Time from a captured SMS send to its arrival on the console's live stream.

    python3 crates/smishtrap-web/bench/send-to-console.py [--bin target/release/smishtrap]
        [--sends 200] [--data DIR] [--run]

Starts a real sensor and a real console (separate processes, one data directory, loopback
only), opens the SSE stream the Live page uses, then sends `send_sms` requests to the sensor
one at a time and measures, for each, the time from just before the request until the
stream delivered the event (the browser renders a row from it in well under a millisecond).
With `--run` it starts `smishtrap run` instead (sensor, continuous analysis and console in
one process) and also times the analysed message (`event: message`, sent once the
clustering has assigned its campaign). Prints percentiles. A measurement, not a test:
nothing is asserted.
"""

import argparse
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "bench-token-0123456789abcdef"


def start(cmd, pattern):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(pattern, line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, m.group(1)
    proc.kill()
    sys.exit(f"{cmd[1]} did not start")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(addr):
    host, port = addr.rsplit(":", 1)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"nothing answers on {addr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/smishtrap")
    ap.add_argument("--sends", type=int, default=200)
    ap.add_argument("--data")
    ap.add_argument("--run", action="store_true", help="one `smishtrap run` process; also time analysed messages")
    args = ap.parse_args()
    data = args.data or tempfile.mkdtemp(prefix="smishtrap-latency-")
    if args.run:
        sensor_addr = f"127.0.0.1:{free_port()}"
        console_addr = f"127.0.0.1:{free_port()}"
        run = subprocess.Popen(
            [args.bin, "run", "--data", data, "--sensor-listen", sensor_addr,
             "--console-listen", console_addr, "--console-token", TOKEN],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(console_addr)
        procs = (run,)
    else:
        sensor, sensor_addr = start(
            [args.bin, "sensor", "--data", data, "--listen", "127.0.0.1:0", "--persona", "milesight-ur32l"],
            r"listening on (\S+)",
        )
        console, console_addr = start(
            [args.bin, "console", "--data", data, "--listen", "127.0.0.1:0", "--token", TOKEN],
            r"console listening on http://([^/\s]+)/",
        )
        procs = (console, sensor)
    seen = {}
    seen_message = {}
    lock = threading.Condition()

    def follow():
        host, port = console_addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port))
        conn.request("GET", "/api/v1/events/stream?kind=sms.send", headers={"Authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        kind = "event"
        for raw in resp:
            line = raw.decode("utf-8", "replace")
            if line.startswith("event: "):
                kind = line[7:].strip()
            if line.startswith("data: "):
                m = re.search(r"latency-probe-(\d+)", line)
                if m:
                    with lock:
                        target = seen_message if kind == "message" else seen
                        target.setdefault(int(m.group(1)), time.perf_counter())
                        lock.notify_all()

    # Wait until the console has read the stored history (a large --data store takes a while).
    host, port = console_addr.rsplit(":", 1)
    started = time.perf_counter()
    while True:
        conn = http.client.HTTPConnection(host, int(port))
        conn.request("GET", "/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"})
        health = json.loads(conn.getresponse().read())
        conn.close()
        if health["store"]["caught_up"]:
            print(f"console caught up with {health['store']['events']} stored events "
                  f"in {time.perf_counter() - started:.1f} s")
            break
        time.sleep(0.1)
    threading.Thread(target=follow, daemon=True).start()
    time.sleep(0.5)  # the stream is open
    host, port = sensor_addr.rsplit(":", 1)

    def send(i):
        body = json.dumps({"id": str(i), "execute": 1, "function": "send_sms",
                           "values": [{"base": "api_sms", "phone_number": "+32470000001",
                                       "content": f"latency-probe-{i} https://example-probe.info/x"}]})
        conn = http.client.HTTPConnection(host, int(port))
        t0 = time.perf_counter()
        conn.request("POST", "/cgi", body=body, headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        conn.close()
        return t0

    if args.run:
        # The analysis of a large store loads its state first: one probe tells when it is
        # ready, and is not counted.
        warm = args.sends + 1000
        t0 = send(warm)
        with lock:
            lock.wait_for(lambda: warm in seen_message, timeout=900)
        if warm not in seen_message:
            sys.exit("the first analysed message never reached the stream")
        print(f"first analysed message after {seen_message[warm] - t0:.1f} s (start-up)")
    latencies = []
    message_latencies = []
    for i in range(args.sends):
        t0 = send(i)
        with lock:
            lock.wait_for(lambda: i in seen, timeout=10)
        if i in seen:
            latencies.append(seen[i] - t0)
        if args.run:
            with lock:
                lock.wait_for(lambda: i in seen_message, timeout=10)
            if i in seen_message:
                message_latencies.append(seen_message[i] - t0)
        # Uniform over more than one poll interval, so sends do not lock onto its phase.
        time.sleep(random.uniform(0, 0.3))
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)
    if not latencies:
        sys.exit("no send reached the stream")

    def report(what, values):
        values.sort()

        def pct(p):
            return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000

        print(f"{what}: delivered {len(values)} of {args.sends}; p50 {pct(50):.1f} ms, "
              f"p90 {pct(90):.1f} ms, p99 {pct(99):.1f} ms, max {values[-1] * 1000:.1f} ms")

    report("send -> live stream (event)", latencies)
    if args.run:
        if message_latencies:
            report("send -> live stream (analysed message with campaign)", message_latencies)
        else:
            print("no analysed message reached the stream")


if __name__ == "__main__":
    main()
