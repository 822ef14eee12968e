#!/usr/bin/env python3
"""`smishtrap import` and `smishtrap run` over a store of N messages (default 1,000,000).

1. Generates N records (bench/gen-campaign-records.py) and imports them: messages/s, peak RSS,
   store size.
2. Starts `smishtrap run` on that store (ephemeral loopback ports) and times how long its
   analyst takes to load the stored campaign features and finish its first full pass.
3. Sends SMS through the sensor and times each until the console's live stream (SSE,
   `event: message`) shows it analysed with its campaign: p50/p95/max.
4. Times console pages and API calls over the large store: median and p95 of R loads each.

usage: bench/run-1m.py [N] [--sends S] [--repeat R] [--keep DIR]
Needs python3 and GNU time (/usr/bin/time); builds the release binary unless BIN is set.
Run it on an otherwise idle machine; figures are measured here, never asserted in tests.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token-0123456789abcdef"
LURE = ("CSAM: uw digitale identiteit verloopt vandaag. Bevestig uw gegevens via "
        "https://login.csam-be.info/verify om blokkering te voorkomen")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--sends", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--keep", help="reuse/keep this data directory (skips import if present)")
    args = ap.parse_args()
    binary = os.environ.get("BIN")
    if not binary:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "smishtrap"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target/release/smishtrap")
    work = tempfile.mkdtemp(prefix="smishtrap-run-bench-")
    # a private copy: a rebuild of target/release during the run must not change the binary
    shutil.copy2(binary, os.path.join(work, "smishtrap"))
    binary = os.path.join(work, "smishtrap")
    data = args.keep or os.path.join(work, "data")
    try:
        if not os.path.exists(os.path.join(data, "smishtrap.db")):
            import_records(binary, work, data, args.n)
        run_console(binary, data, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def import_records(binary, work, data, n):
    records = os.path.join(work, "records.jsonl")
    corpus = os.path.join(ROOT, "..", "shared", "data", "smish-dev.jsonl")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench/gen-campaign-records.py"), corpus,
                    str(n), records], check=True)
    started = time.monotonic()
    out = subprocess.run(["/usr/bin/time", "-v", binary, "import", "--data", data, records],
                         capture_output=True, text=True, env=dict(os.environ, SMISHTRAP_LOG="warn"))
    took = time.monotonic() - started
    if out.returncode != 0:
        sys.exit(f"import failed:\n{out.stderr}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    size = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)
               if f.startswith("smishtrap.db"))
    summary = [line for line in out.stderr.splitlines() if line.startswith(("imported", "campaigns", "0 ", "1", "2", "3", "4", "5", "6", "7", "8", "9"))]
    print(f"import: {n} records in {took:.1f} s = {n / took:,.0f} messages/s, "
          f"peak RSS {int(rss.group(1)) // 1024 if rss else '?'} MiB, store {size / 2**20:,.0f} MiB")
    for line in summary:
        print(f"  {line}")


def cursors(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        top = conn.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()[0]
        cur = dict(conn.execute("SELECT name, value FROM cursors").fetchall())
        return top, cur.get("clustered", 0)
    finally:
        conn.close()


def run_console(binary, data, args):
    db = os.path.join(data, "smishtrap.db")
    started = time.monotonic()
    proc = subprocess.Popen(
        [binary, "run", "--data", data, "--sensor-listen", "127.0.0.1:0", "--console-listen",
         "127.0.0.1:0", "--console-token", TOKEN],
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, SMISHTRAP_LOG="warn"))
    sensor = console = None
    for line in proc.stderr:
        m = re.match(r"listening on (\S+) persona=", line)
        if m and not sensor:
            sensor = m.group(1)
        m = re.match(r"console listening on http://([^/]+)/", line)
        if m:
            console = m.group(1)
        if line.startswith("log in:"):
            break
    if not (sensor and console):
        sys.exit("run did not start")
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    try:
        top, _ = cursors(db)
        # the first send after a restart waits for the analyst to load every stored
        # message's features and finish a full clustering pass
        first = latency(sensor, console, 1, quiet=True)[0]
        print(f"run over {top:,} stored messages: first capture live with its campaign "
              f"{first:.1f} s after the send ({time.monotonic() - started:.1f} s after start)")
        rss = open(f"/proc/{proc.pid}/status").read()
        print("  " + re.search(r"VmRSS:.*", rss).group(0))
        latency(sensor, console, args.sends)
        pages(console, db, args.repeat)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def latency(sensor, console, sends, quiet=False):
    host, port = console.rsplit(":", 1)
    stream = http.client.HTTPConnection(host, int(port), timeout=120)
    stream.request("GET", "/api/v1/events/stream", headers={"Authorization": f"Bearer {TOKEN}"})
    resp = stream.getresponse()
    assert resp.status == 200, resp.status
    seen = {}
    lock = threading.Condition()

    def read():
        kind = None
        while True:
            try:
                line = resp.readline()  # decodes the chunked transfer encoding
            except (AttributeError, OSError, ValueError):
                return  # the stream was closed
            if not line:
                return
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:") and kind == "message":
                try:
                    row = json.loads(line[5:])
                except ValueError:
                    continue
                if row.get("campaign"):
                    with lock:
                        seen.setdefault(row.get("recipient"), time.monotonic())
                        lock.notify_all()
            elif not line:
                kind = None

    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.5)
    shost, sport = sensor.rsplit(":", 1)
    times = []
    for i in range(sends):
        to = f"+3247{9000000 + i + (int(time.time() * 1000) % 900000):07d}"
        body = json.dumps({"id": str(i), "execute": 1, "function": "send_sms", "values": [
            {"base": "api_sms", "phone_number": to, "content": LURE}]})
        conn = http.client.HTTPConnection(shost, int(sport), timeout=30)
        sent = time.monotonic()
        conn.request("POST", "/cgi", body=body, headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        conn.close()
        with lock:
            if not lock.wait_for(lambda: to in seen, timeout=120):
                sys.exit(f"send {i} never showed up analysed with a campaign")
            times.append(seen[to] - sent)
        time.sleep(0.05)
    stream.close()
    if quiet:
        return times
    times.sort()
    print(f"capture -> console live with verdict and campaign ({sends} sends): "
          f"p50 {1000 * statistics.median(times):.0f} ms, p95 {1000 * times[int(0.95 * (len(times) - 1))]:.0f} ms, "
          f"max {1000 * times[-1]:.0f} ms")
    return times


def pages(console, db, repeat):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    campaign = conn.execute("SELECT id FROM campaigns ORDER BY message_count DESC LIMIT 1").fetchone()
    conn.close()
    campaign = campaign[0] if campaign else "none"
    paths = [
        "/", "/events", "/messages", "/messages?verdict=smishing", "/messages?text=pakket",
        "/messages?domain=csam-be.info", "/messages?number=%2B3247", "/messages?brand=CSAM",
        "/campaigns", f"/campaigns/{campaign}", "/api/v1/messages?limit=100",
        "/api/v1/campaigns", f"/api/v1/campaigns/{campaign}",
        f"/api/v1/campaigns/{campaign}/export?format=stix",
    ]
    host, port = console.rsplit(":", 1)
    print(f"console over the store (median / p95 of {repeat} loads):")
    for path in paths:
        times = []
        for _ in range(repeat):
            c = http.client.HTTPConnection(host, int(port), timeout=120)
            t = time.monotonic()
            c.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
            r = c.getresponse()
            body = r.read()
            times.append(time.monotonic() - t)
            c.close()
            if r.status != 200:
                print(f"  {path}: HTTP {r.status}")
                break
        else:
            times.sort()
            print(f"  {path:55} {1000 * statistics.median(times):8.1f} ms  "
                  f"{1000 * times[int(0.95 * (len(times) - 1))]:8.1f} ms  ({len(body) / 1024:,.0f} KiB)")


if __name__ == "__main__":
    main()
