"""Paceline's benchmarks: ``python -m bench [NAME ...] [--quick]``.

Each benchmark is a module of this package (see :mod:`bench.harness` for the contract);
:data:`BENCHMARKS` lists them in the order they run and appear in docs/PERFORMANCE.md.
"""

from __future__ import annotations

# name -> module. Issue 9 adds ingest (vs a bare aiokafka producer loop), scoring (vs a
# reference consume loop) and freshness here.
BENCHMARKS: dict[str, str] = {
    "pipeline": "bench.pipeline",
    "reads": "bench.reads",
    "alerts_noise": "bench.alerts_noise",
    "imports": "bench.imports",
    "earnings": "bench.earnings",
    "delivery_noise": "bench.delivery_noise",
    "scaleout": "bench.scaleout",
}
