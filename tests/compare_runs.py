#!/usr/bin/env python3
"""Compare two syndisco output directories (or sets of them).

    compare_runs.py A B          A and B hold the same discussions
    compare_runs.py A B1 B2 ...  A equals the union of B1, B2, ...

Every <cell>/<index>.json must exist on both sides and be equal apart
from "id" and "timestamp". Exits non-zero with the first difference.
"""
import json
import os
import sys


def load_set(dirs):
    out = {}
    for d in dirs:
        for cell in sorted(os.listdir(d)):
            p = os.path.join(d, cell)
            if not os.path.isdir(p):
                continue
            for f in os.listdir(p):
                if not f.endswith(".json"):
                    continue
                key = (cell, f)
                if key in out:
                    sys.exit(f"{cell}/{f} appears in two shards")
                with open(os.path.join(p, f), encoding="utf-8", errors="strict") as fh:
                    data = json.load(fh)
                data.pop("id", None)
                data.pop("timestamp", None)
                out[key] = data
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    a = load_set([sys.argv[1]])
    b = load_set(sys.argv[2:])
    if not a:
        sys.exit("no discussion files in " + sys.argv[1])
    if a.keys() != b.keys():
        only_a = sorted(a.keys() - b.keys())[:5]
        only_b = sorted(b.keys() - a.keys())[:5]
        sys.exit(f"different files: only in A {only_a}, only in B {only_b}")
    for k in sorted(a):
        if a[k] != b[k]:
            sys.exit(f"{k[0]}/{k[1]} differs")
    print(f"{len(a)} discussions identical apart from id/timestamp")


main()
