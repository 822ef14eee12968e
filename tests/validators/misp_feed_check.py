#!/usr/bin/env python3
"""Check a MISP feed directory as a subscribing MISP instance reads it; exit 1 on any error.

usage: misp_feed_check.py DIR
DIR/manifest.json names every event (uuid -> header); each DIR/<uuid>.json must load with
PyMISP's MISPEvent().load(), have that uuid and the manifest's info, date and tags; every line
of DIR/hashes.csv is md5(value),uuid of an attribute value (or one part of a composite value)
of that event, and every attribute value is hashed.
"""
import csv
import hashlib
import json
import os
import sys

from pymisp import MISPEvent


def main(feed):
    failed = False

    def fail(message):
        nonlocal failed
        print(f"{feed}: {message}", file=sys.stderr)
        failed = True

    with open(os.path.join(feed, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    if not manifest:
        fail("empty manifest")
    files = {n[:-5] for n in os.listdir(feed) if n.endswith(".json") and n != "manifest.json"}
    if files != set(manifest):
        fail(f"manifest {sorted(manifest)} does not match event files {sorted(files)}")
    expected = set()
    for uuid, header in manifest.items():
        event = MISPEvent()
        try:
            with open(os.path.join(feed, f"{uuid}.json"), encoding="utf-8") as f:
                event.load(f)
        except Exception as e:  # any exception is a failed load
            fail(f"{uuid}.json: MISPEvent().load failed: {e!r}")
            continue
        if event.uuid != uuid:
            fail(f"{uuid}.json holds event {event.uuid}")
        if event.info != header.get("info"):
            fail(f"{uuid}: manifest info differs")
        tags = {t.name for t in event.tags}
        if {t["name"] for t in header.get("Tag", [])} != tags:
            fail(f"{uuid}: manifest tags differ")
        if not any(t.startswith("tlp:") for t in tags):
            fail(f"{uuid}: no TLP tag")
        # hashes are of the values as served (PyMISP turns datetimes into objects)
        with open(os.path.join(feed, f"{uuid}.json"), encoding="utf-8") as f:
            raw = json.load(f)["Event"]
        attributes = list(raw.get("Attribute", []))
        attributes += [a for o in raw.get("Object", []) for a in o.get("Attribute", [])]
        if len(attributes) != len(event.attributes) + sum(len(o.attributes) for o in event.objects):
            fail(f"{uuid}: PyMISP loaded another number of attributes")
        for a in attributes:
            for part in str(a["value"]).split("|"):
                expected.add((hashlib.md5(part.encode("utf-8")).hexdigest(), uuid))
    with open(os.path.join(feed, "hashes.csv"), encoding="utf-8", newline="") as f:
        got = {(row[0], row[1]) for row in csv.reader(f) if row}
    if got != expected:
        fail(f"hashes.csv: {len(got - expected)} unexpected, {len(expected - got)} missing")
    if not failed:
        print(f"{feed}: ok ({len(manifest)} events, {len(got)} hashes)")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
