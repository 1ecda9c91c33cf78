#!/usr/bin/env python3
"""Prints, from one results file of `sandbox-bench run`, the table of docs/runtimes.md: for each
workload, each isolation runtime (the OCI runtime the engine reports for each profile's
container, or bwrap) against each strategy, the p50 and the cold start, with the p50's ratio to
runc's for the same strategy and workload. Backends of other transports than compose and bwrap
are left out, so that a row differs from runc's by its runtime alone."""
import json
import sys

STRATEGIES = ("per-call", "persistent", "fork")


def runtime_of(backend, runtimes):
    """(runtime, strategy) of a backend name, or None for a backend the table leaves out."""
    transport, _, strategy = backend.partition(":")
    transport, _, profile = transport.partition("@")
    if transport == "bwrap":
        return "bwrap", strategy
    if transport != "compose":
        return None
    return runtimes.get(profile or "docker", "?"), strategy


def main():
    if len(sys.argv) != 2:
        print("usage: runtime-table.py BENCHMARK_RESULTS.json", file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        results = json.load(f)
    runtimes = {
        p["name"]: (p.get("sandbox") or {}).get("runtime") or p.get("runtime") or "runc"
        for p in results.get("profiles") or []
    }
    cells = {}
    for e in results["results"]:
        found = runtime_of(e["backend"], runtimes)
        if found is None or found[1] not in STRATEGIES:
            continue
        cells[(e["workload"], found[0], found[1])] = (
            (e.get("latency_us") or {}).get("p50"),
            e.get("cold_start_us"),
            e.get("errors", 0),
        )
    if not cells:
        print("runtime-table: no compose or bwrap backend in %s" % sys.argv[1], file=sys.stderr)
        return 1
    order = ["runc", "crun", "runsc", "bwrap"]
    names = sorted({r for _, r, _ in cells}, key=lambda r: (order.index(r) if r in order else 9, r))
    for workload in sorted({w for w, _, _ in cells}):
        print("### %s\n" % workload)
        head = ["runtime"] + ["%s p50 (ratio to runc), cold start" % s for s in STRATEGIES]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for runtime in names:
            row = [runtime]
            for strategy in STRATEGIES:
                cell = cells.get((workload, runtime, strategy))
                if cell is None:
                    row.append("—")
                    continue
                p50, cold, errors = cell
                if p50 is None:  # every call failed
                    row.append("no answer, %d errors" % errors)
                    continue
                base = cells.get((workload, "runc", strategy))
                ratio = " (×%.2f)" % (p50 / base[0]) if base and base[0] else ""
                text = "%.0f µs%s" % (p50, ratio)
                if cold:
                    text += ", %.0f ms" % (cold / 1000)
                if errors:
                    text += ", %d errors" % errors
                row.append(text)
            print("| " + " | ".join(row) + " |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
