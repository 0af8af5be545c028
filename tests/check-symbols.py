#!/usr/bin/env python3
"""Compare the symbols libfcgiclient.so exports with the functions the public
headers mark FCGIC_API. Fails loudly when an input is missing or empty."""
import pathlib
import re
import subprocess
import sys

if len(sys.argv) != 3:
    sys.exit("usage: check-symbols.py LIBFCGICLIENT.so INCLUDE_DIR")
lib, incdir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
if not lib.is_file():
    sys.exit(f"FAIL: shared library {lib} not found")
headers = sorted(incdir.glob("*.h")) + sorted(incdir.glob("*.h.in"))
if not headers:
    sys.exit(f"FAIL: no public headers under {incdir}")

declared = set()
for h in headers:
    text = h.read_text()
    for m in re.finditer(r"FCGIC_API\b[^;{]*?\b(fcgic_[A-Za-z0-9_]+)\s*\(", text, re.S):
        declared.add(m.group(1))
if len(declared) < 10:
    sys.exit(f"FAIL: only {len(declared)} FCGIC_API declarations found in {incdir}: parser broken?")

out = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True)
if out.returncode != 0:
    sys.exit(f"FAIL: nm failed: {out.stderr}")
exported = set()
for line in out.stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "TtDdBbRrWwVvi":
        name = parts[2].split("@")[0]
        if name.startswith("fcgic"):
            exported.add(name)
if not exported:
    sys.exit(f"FAIL: {lib} exports no fcgic symbols")

missing = sorted(declared - exported)
extra = sorted(exported - declared)
others = [l for l in out.stdout.splitlines() if len(l.split()) == 3 and l.split()[1] == "T"
          and not l.split()[2].startswith("fcgic") and not l.split()[2].startswith("_")]
ok = True
if missing:
    print("FAIL: declared FCGIC_API but not exported:", *missing, sep="\n  ")
    ok = False
if extra:
    print("FAIL: exported but not declared FCGIC_API in a public header:", *extra, sep="\n  ")
    ok = False
if others:
    print("FAIL: non-fcgic symbols exported:", *others, sep="\n  ")
    ok = False
print(f"{len(declared)} declared, {len(exported)} exported")
sys.exit(0 if ok else 1)
