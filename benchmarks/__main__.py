"""``python -m benchmarks`` (``make bench``): every benchmark, then one JSON results file.

Runs the book path against the peers (cryptofeed, ccxt.pro; when installed), the core kernel
benchmark, every venue on its real recording, the end-to-end loopback benchmark and the
cluster's (``bench_scale``: what NATS adds per event, and frames/s with 1 and 2 worker
processes fed per symbol by the load generator), prints each table, and writes
``benchmarks/results/results.json`` with the machine, Python and package versions and every
row (min/median/max over repeated runs), plus ``book.png``, a chart of the book-path figures
(when matplotlib is installed). ``--quick`` shortens each.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

import orjson

from benchmarks import bench_book, bench_core, bench_e2e, bench_scale, bench_venues

RESULTS = Path(__file__).resolve().parent / "results" / "results.json"
CHART = RESULTS.with_name("book.png")
PACKAGES = (
    "numpy",
    "orjson",
    "websockets",
    "uvloop",
    "httpx",
    "cryptofeed",
    "order_book",
    "ccxt",
    "matplotlib",
)


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
    modules = {
        "book": bench_book,
        "core": bench_core,
        "venues": bench_venues,
        "e2e": bench_e2e,
        "scale": bench_scale,
    }
    for name, module in modules.items():
        print(f"\n== {name} ==", flush=True)
        results[name] = module.run(quick=args.quick)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(
        orjson.dumps(
            results, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=float
        )
    )
    print(f"\nresults written to {RESULTS}")
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no chart (make bench installs it)")
    else:
        chart(results["book"], CHART)  # type: ignore[arg-type]
        print(f"chart written to {CHART}")
    return 0


def chart(rows: list[dict[str, object]], path: Path) -> None:
    """Horizontal bars of median µs/message per variant and venue, min-max whiskers, log x."""
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    labels = [f"{r['venue']}: {r['variant']}" for r in rows]
    med = [float(r["us_median"]) for r in rows]  # type: ignore[arg-type]
    low = [m - float(r["us_min"]) for m, r in zip(med, rows, strict=True)]  # type: ignore[arg-type]
    high = [float(r["us_max"]) - m for m, r in zip(med, rows, strict=True)]  # type: ignore[arg-type]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.2))
    ax.barh(labels, med, xerr=[low, high], color="tab:blue")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("µs per message (median; whiskers min-max), log scale")
    ax.set_title("Book path per message, same raw messages, one process")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
