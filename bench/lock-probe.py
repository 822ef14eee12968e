#!/usr/bin/env python3
"""How long a writer waits for a SQLite store's write lock, sampled while another process writes.

    bench/lock-probe.py DB STOPFILE [PERIOD_MS]

Every PERIOD_MS (default 20) it takes the write lock (`BEGIN IMMEDIATE`, then `ROLLBACK`: it
writes nothing), retrying every millisecond as the store's own connections do, and records
how long that took. It stops once STOPFILE exists and prints the samples' count, p50, p99 and
maximum wait in ms: the longest a sensor's event insert would have waited for the lock.
"""
import os
import sqlite3
import sys
import time


def main() -> None:
    db, stop = sys.argv[1], sys.argv[2]
    period = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.02
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    waits = []
    while not os.path.exists(stop):
        start = time.monotonic()
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError:
                if os.path.exists(stop):
                    break
                time.sleep(0.001)
        waits.append((time.monotonic() - start) * 1000)
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        time.sleep(period)
    waits.sort()
    if not waits:
        print("lock waits: no sample")
        return
    pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))]
    print(
        f"lock waits: {len(waits)} samples, p50 {pick(0.5):.1f} ms, "
        f"p99 {pick(0.99):.1f} ms, max {waits[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
