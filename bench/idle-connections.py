#!/usr/bin/env python3
"""Opens N idle TCP connections to HOST:PORT, reports the sensor's resident memory (VmRSS of
PID) before and after, then closes them. Used by bench/sensor-load.sh. Loopback only."""
import socket, sys, time

host, port, n, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
mode = sys.argv[5] if len(sys.argv) > 5 else "silent"
assert host.startswith("127."), "loopback only"

def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

before = rss_kib()
socks = []
for i in range(n):
    s = socket.create_connection((host, port))
    if mode == "after-request":
        # one request and its answer, then the connection stays open and idle (keep-alive)
        s.sendall(b"GET /login.html HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        got = b""
        while b"</html>" not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    socks.append(s)
time.sleep(3)
after = rss_kib()
print(f"RSS mode={mode} connections={len(socks)} before_kib={before} after_kib={after} per_conn_bytes={(after-before)*1024//max(1,len(socks))}")
for s in socks:
    s.close()
