#!/usr/bin/env python3
"""Checks a benchmark_results.json: the backends and number of workloads expected, every entry
with calls, zero errors, ordered percentiles and a histogram. Exits 1 with the reasons if not."""

import argparse
import json
import sys


def problems(results, backends, workloads):
    found = []
    if results.get("schema_version") != 1:
        found.append("schema_version is %r, expected 1" % results.get("schema_version"))
    if not results.get("complete"):
        found.append("the run is marked incomplete")
    names = results["settings"]["workloads"]
    if len(names) != workloads:
        found.append("%d workloads, expected %d" % (len(names), workloads))
    for backend in backends:
        for workload in names:
            entry = [e for e in results["results"]
                     if e["backend"] == backend and e["workload"] == workload]
            if len(entry) != 1:
                found.append("%s x %s: %d entries" % (backend, workload, len(entry)))
                continue
            e = entry[0]
            where = "%s x %s" % (backend, workload)
            if e["calls"] < 1 or e["errors"] or e["warmup_errors"]:
                found.append("%s: %d calls, %d errors, %d warm-up errors %s" % (
                    where, e["calls"], e["errors"], e["warmup_errors"], e["error_samples"]))
            lat = e.get("latency_us") or {}
            order = [lat.get(k) for k in ("min", "p50", "p90", "p99", "max")]
            if None in order or order != sorted(order) or order[0] <= 0:
                found.append("%s: latency figures out of order: %s" % (where, lat))
            if not e.get("histogram"):
                found.append("%s: no histogram" % where)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    parser.add_argument("--backends", required=True, help="comma-separated, full names")
    parser.add_argument("--workloads", type=int, required=True, help="how many workloads")
    args = parser.parse_args()
    with open(args.file) as f:
        results = json.load(f)
    found = problems(results, args.backends.split(","), args.workloads)
    for p in found:
        print("check-results:", p, file=sys.stderr)
    entries = len(results["results"])
    print("check-results: %s: %d entries, %s" % (args.file, entries, "FAILED" if found else "ok"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
