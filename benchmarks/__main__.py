"""``python -m benchmarks`` (``make bench``): every benchmark, then one JSON results file.

Runs the core kernel benchmark, every venue on its real recording, and the end-to-end
loopback benchmark, prints each table, and writes ``benchmarks/results/results.json`` with the
machine, Python and package versions and every row. ``--quick`` shortens each.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import time
from pathlib import Path

import orjson

from benchmarks import bench_core, bench_e2e, bench_venues

RESULTS = Path(__file__).resolve().parent / "results" / "results.json"
PACKAGES = ("numpy", "orjson", "websockets", "uvloop", "httpx")


def environment() -> dict[str, object]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "system": platform.platform(),
        "python": sys.version.split()[0],
        "packages": versions,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs of each benchmark")
    args = parser.parse_args(argv)
    results: dict[str, object] = {"environment": environment()}
    for name, module in (("core", bench_core), ("venues", bench_venues), ("e2e", bench_e2e)):
        print(f"\n== {name} ==", flush=True)
        results[name] = module.run(quick=args.quick)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(
        orjson.dumps(
            results, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=float
        )
    )
    print(f"\nresults written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
