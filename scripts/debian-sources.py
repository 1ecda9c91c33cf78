#!/usr/bin/env python3
"""The Debian entries of this machine's apt sources for one release, as one-line `deb` entries
restricted to main: `debian-sources.py SUITE [AS]` (one-line and deb822 files; *.disabled*
files skipped). With AS, the same archives for another release (AS's suites in place of
SUITE's), for an image of a release the machine does not run."""
import glob
import os
import re
import sys

suite_re = re.compile(r"^%s(-updates|-security|/updates)?$" % re.escape(sys.argv[1]))
# With AS: the same archives, for the release AS (trixie from bookworm's entries).
rename = sys.argv[2] if len(sys.argv) > 2 else None
files = ["/etc/apt/sources.list"] + sorted(
    glob.glob("/etc/apt/sources.list.d/*.list")
    + glob.glob("/etc/apt/sources.list.d/*.sources"))
entries = []  # (uri, suite, signed_by)

def add(types, uris, suites, comps, signed_by):
    if "deb" not in types or "main" not in comps:
        return
    if signed_by and not os.path.isfile(signed_by):
        signed_by = None  # inline key or missing file: use default keyrings
    for uri in uris:
        for suite in suites:
            if suite_re.match(suite):
                entries.append((uri, suite, signed_by))

for path in files:
    if ".disabled" in os.path.basename(path) or not os.path.isfile(path):
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields, key = {}, None
            for line in stanza.splitlines():
                if line.startswith("#"):
                    continue
                if line[:1] in (" ", "\t") and key:
                    fields[key] += "\n" + line.strip()
                elif ":" in line:
                    key, _, value = line.partition(":")
                    key = key.strip().lower()
                    fields[key] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            add(fields.get("types", "").split(), fields.get("uris", "").split(),
                fields.get("suites", "").split(), fields.get("components", "").split(),
                fields.get("signed-by", "").strip() or None)
    else:
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.match(r"^(deb)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
            if not m:
                continue
            opts = dict(o.split("=", 1) for o in (m.group(2) or "").split() if "=" in o)
            add([m.group(1)], [m.group(3)], [m.group(4)], m.group(5).split(),
                opts.get("signed-by"))

seen = set()
for uri, suite, signed_by in entries:
    if (uri, suite) in seen:
        continue
    seen.add((uri, suite))
    opt = " [signed-by=%s]" % signed_by if signed_by else ""
    if rename:
        suite = rename + suite[len(sys.argv[1]) :]
    print("deb%s %s %s main" % (opt, uri, suite))
