#!/usr/bin/env python3
"""Writes N SMS records (JSONL) made of shifted copies of a labelled corpus.

Each copy of the corpus gets its own routers, recipient and operator numbers and a time shift
of three days, so copies are separate sends of the same campaigns (waves of one campaign then
span many copies: a worst case for summaries). Ground-truth fields are dropped.

usage: bench/gen-campaign-records.py CORPUS N OUT
"""
import json
import sys
from datetime import datetime, timedelta

src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
truth = {"label", "campaign", "phase", "brand", "lang", "to_country"}
rows = [
    {k: v for k, v in json.loads(line).items() if k not in truth}
    for line in open(src, encoding="utf-8")
    if line.strip()
]


def number(raw, c):
    if not raw:
        return raw
    digits = [ch for ch in raw if ch.isdigit()]
    if len(digits) < 6:
        return raw
    tail = int("".join(digits[-5:])) + c * 7919
    return raw[: len(raw) - 5] + f"{tail % 100000:05d}" if raw[-5:].isdigit() else raw


with open(out, "w", encoding="utf-8") as f:
    written, c = 0, 0
    while written < n:
        shift = timedelta(days=3 * c, minutes=c % 97)
        for r in rows:
            if written >= n:
                break
            m = dict(r)
            m["id"] = f"{r.get('id', written)}-{c}"
            if m.get("ts"):
                t = datetime.fromisoformat(m["ts"].replace("Z", "+00:00")) + shift
                m["ts"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            if m.get("router"):
                m["router"] = f"{m['router']}-{c}"
            m["to"] = number(m.get("to"), c)
            m["from"] = number(m.get("from"), c)
            f.write(json.dumps(m, ensure_ascii=False) + "\n")
            written += 1
        c += 1
