#!/usr/bin/env python3
"""Opens N idle TCP connections to HOST:PORT, reports how much memory process PID needs for
them, then closes them. Used by bench/sensor-load.sh (sensor) and for the console. Loopback only.

usage: idle-connections.py HOST PORT N PID [MODE] [--path PATH] [--rounds R] [--sources K]
                           [--probe PATH]
  MODE        silent: connect and send nothing (default); after-request: one GET PATH with
              keep-alive, read the answer, then stay idle
  --path      what after-request asks for (default /login.html, a sensor page; /healthz for the
              console)
  --rounds    measurements (default 3); the figure is the largest
  --sources   spread the connections over K source addresses 127.0.0.2... (default 0: one
              address), for servers with a per-address cap
  --probe     while the connections are open, time GET PROBE on a new connection from
              127.0.0.1 (for example /healthz: does the server still answer a newcomer?)

How memory is measured: the private memory of PID (Private_Clean + Private_Dirty of
/proc/PID/smaps_rollup, or VmRSS where that file is missing), read once it has settled (two
reads 0.5 s apart within 64 KiB, at most 10 s), before opening the connections and after, and
divided by the connections the server still held (a server with a cap closes the rest). The
old single VmRSS read 3 s after opening could come out negative on a warm process: memory the
allocator had freed earlier went back to the system between the two reads. Settling first
removes that. Each round opens and closes its own connections; later rounds reuse memory the
allocator kept from the first, so they read lower: per_conn_bytes is the largest round (the
first, on a process that never held that many connections), and every round is printed.
"""
import argparse
import resource
import socket
import statistics
import time


def private_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty"))
    except (OSError, KeyError, ValueError):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    return -1


def settled_kib(pid):
    last = private_kib(pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = private_kib(pid)
        if abs(now - last) <= 64:
            return now
        last = now
    return last


def read_answer(s):
    """Reads one HTTP answer with a Content-Length body (or until the peer closes)."""
    s.settimeout(10)
    got = b""
    while True:
        head, sep, body = got.partition(b"\r\n\r\n")
        if sep:
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            if len(body) >= length:
                return head.split(b"\r\n", 1)[0].decode("latin-1")
        chunk = s.recv(65536)
        if not chunk:
            return head.split(b"\r\n", 1)[0].decode("latin-1") if got else "closed"
        got += chunk


def still_open(socks):
    time.sleep(0.5)
    n = 0
    for s in socks:
        s.setblocking(False)
        try:
            n += 1 if s.recv(1, socket.MSG_PEEK) else 0
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def probe(host, port, path):
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            status = read_answer(s)
    except OSError as e:
        status = f"error {e}"
    return status, (time.monotonic() - start) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("pid")
    ap.add_argument("mode", nargs="?", default="silent", choices=["silent", "after-request"])
    ap.add_argument("--path", default="/login.html")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sources", type=int, default=0)
    ap.add_argument("--probe")
    args = ap.parse_args()
    assert args.host.startswith("127."), "loopback only"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    figures, helds, probes = [], [], []
    before = after = 0
    for _ in range(max(1, args.rounds)):
        before = settled_kib(args.pid)
        socks = []
        for i in range(args.n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if args.sources > 0:
                s.bind((f"127.0.0.{2 + i % args.sources}", 0))
            s.connect((args.host, args.port))
            if args.mode == "after-request":
                s.sendall(f"GET {args.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                read_answer(s)
            socks.append(s)
        if args.probe:
            probes.append(probe(args.host, args.port, args.probe))
        held = still_open(socks)
        after = settled_kib(args.pid)
        helds.append(held)
        figures.append((after - before) * 1024 // max(1, held))
        for s in socks:
            s.close()
        time.sleep(1)
    line = (
        f"memory mode={args.mode} connections={args.n} held={statistics.median(helds):.0f} "
        f"private_kib_before={before} private_kib_after={after} "
        f"per_conn_bytes={max(figures)} rounds={figures}"
    )
    if probes:
        worst = max(ms for _, ms in probes)
        line += f" probe={args.probe} answers={sorted({s for s, _ in probes})} worst_ms={worst:.0f}"
    print(line)


if __name__ == "__main__":
    main()
