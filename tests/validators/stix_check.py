#!/usr/bin/env python3
"""Validate STIX 2.1 bundles with the OASIS stix2-validator; exit 1 on any error.

usage: stix_check.py BUNDLE.json...
"""
import json
import sys

from stix2validator import ValidationOptions, print_results, validate_instance


def main(paths):
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as f:
            bundle = json.load(f)
        results = validate_instance(bundle, ValidationOptions(version="2.1"))
        print_results(results)
        if not results.is_valid:
            failed = True
        else:
            print(f"{path}: valid STIX 2.1 ({len(bundle.get('objects', []))} objects)")
        kinds = {o["type"] for o in bundle.get("objects", [])}
        for needed in ("campaign", "indicator", "identity", "infrastructure", "relationship", "note", "domain-name", "url"):
            if needed not in kinds:
                print(f"{path}: no {needed} object", file=sys.stderr)
                failed = True
        # machine fields hold real values, names and descriptions never a live link
        for o in bundle.get("objects", []):
            for field in ("name", "description", "content", "abstract"):
                text = o.get(field, "")
                if "http://" in text or "https://" in text:
                    print(f"{path}: live link in {o['type']} {field}: {text[:80]!r}", file=sys.stderr)
                    failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
