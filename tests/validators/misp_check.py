#!/usr/bin/env python3
"""Load MISP event JSON files with PyMISP's MISPEvent().load(); exit 1 on any error.

usage: misp_check.py EVENT.json...
Each file holds one event ({"Event": {...}}); PyMISP must load it without an exception,
know every attribute type and category, and find the sms-phishing tag.
"""
import sys

from pymisp import MISPEvent


def main(paths):
    failed = False
    for path in paths:
        event = MISPEvent()
        try:
            with open(path, encoding="utf-8") as f:
                event.load(f)
        except Exception as e:  # any exception is a failed load
            print(f"{path}: MISPEvent().load failed: {e!r}", file=sys.stderr)
            failed = True
            continue
        types = event.describe_types
        names = {o.name for o in event.objects}
        for needed in ("short-message-service", "phishing", "url", "domain-ip", "phone-number"):
            if needed not in names:
                print(f"{path}: no {needed} object", file=sys.stderr)
                failed = True
        attributes = list(event.attributes) + [a for o in event.objects for a in o.attributes]
        for a in attributes:
            if a.type not in types["types"]:
                print(f"{path}: unknown attribute type {a.type}", file=sys.stderr)
                failed = True
            elif a.category not in types["category_type_mappings"] or a.type not in types["category_type_mappings"][a.category]:
                print(f"{path}: category {a.category} not valid for {a.type}", file=sys.stderr)
                failed = True
        tags = {t.name for t in event.tags}
        if 'phishing:techniques="sms-phishing"' not in tags:
            print(f"{path}: sms-phishing tag missing", file=sys.stderr)
            failed = True
        if not any(a.to_ids for a in attributes if a.type in ("url", "domain")):
            print(f"{path}: no url/domain attribute has to_ids", file=sys.stderr)
            failed = True
        if any(a.to_ids for a in attributes if a.type in ("text", "phone-number", "datetime")):
            print(f"{path}: to_ids set on a text, phone number or date", file=sys.stderr)
            failed = True
        print(f"{path}: ok ({len(event.objects)} objects, {len(attributes)} attributes)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
