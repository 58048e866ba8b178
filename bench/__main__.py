"""``python -m bench [NAME ...] [--quick] [--out FILE] [--doc FILE]``: run the benchmarks.

Servers a benchmark needs (PostgreSQL, Kafka) are started on free loopback ports in a
temporary directory and stopped when the run ends, also on failure, Ctrl-C or SIGTERM.
After each benchmark its results are merged into the results file and the report is
regenerated, so a later failure does not lose an earlier benchmark's figures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType

from bench import BENCHMARKS, harness


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run Paceline's benchmarks; write bench/results/latest.json and "
        "regenerate docs/PERFORMANCE.md.",
    )
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short run: less data, fewer calls (smoke test)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=harness.DEFAULT_OUT,
        help="results file to merge into (default: bench/results/latest.json)",
    )
    parser.add_argument(
        "--doc",
        type=Path,
        default=harness.DEFAULT_DOC,
        help="report to regenerate (default: docs/PERFORMANCE.md)",
    )
    parser.add_argument(
        "--profile",
        metavar="SUBSTRING",
        help="also profile the cases whose result name contains SUBSTRING with pyinstrument "
        "(reports in build/bench-profiles/; needs `uv pip install pyinstrument`)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: regenerate the report from the results file (after editing its "
        "hand-written part, say)",
    )
    args = parser.parse_args(argv)
    unknown = [b for b in args.benchmarks if b not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return args


def _sigterm(signum: int, _frame: FrameType | None) -> None:
    # Turn SIGTERM (CI cancellation, `timeout`) into Ctrl-C so the servers are stopped.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; 0 when all of them completed."""
    args = _parse(argv)
    if args.report_only:
        stored = harness.load_results(args.out)
        titles = {n: r.get("title", n) for n, r in stored.get("runs", {}).items()}
        harness.write_performance_md(args.doc, stored, titles)
        return 0
    names = args.benchmarks or list(BENCHMARKS)
    signal.signal(signal.SIGTERM, _sigterm)
    modules = {n: importlib.import_module(BENCHMARKS[n]) for n in names}
    titles = {n: getattr(m, "TITLE", n) for n, m in modules.items()}
    failed: list[str] = []
    with harness.scratch_dir() as tmp, contextlib.ExitStack() as stack:
        for name, module in modules.items():
            ctx = harness.Context(
                quick=args.quick, tmp=tmp / name, stack=stack, profile=args.profile
            )
            ctx.tmp.mkdir(parents=True, exist_ok=True)
            ctx.log(f"{name}: start{' (quick)' if args.quick else ''}")
            started = time.perf_counter()
            try:
                results = module.run(ctx)
            except Exception as exc:
                # One broken benchmark must not stop the others; its old figures stay.
                ctx.log(f"{name}: FAILED: {exc!r}")
                failed.append(name)
                traceback.print_exc()
                continue
            duration = time.perf_counter() - started
            run = {
                "title": titles[name],
                "quick": args.quick,
                "duration_s": round(duration, 1),
                "machine": harness.machine_description(),
                "about": getattr(module, "ABOUT", ""),
                "notes": ctx.notes,
            }
            stored = harness.load_results(args.out)
            merged = harness.merge_results(
                stored, benchmark=name, run=run, results=results, order=list(BENCHMARKS)
            )
            harness.write_json(args.out, merged)
            all_titles = {n: r.get("title", n) for n, r in merged["runs"].items()} | titles
            harness.write_performance_md(args.doc, merged, all_titles)
            ctx.log(f"{name}: done in {duration:.0f} s; {len(results)} results -> {args.out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
