"""Resale fixtures: certified cards, with measured figures of our choosing where a test matches sets on them."""

from dataclasses import replace

import pytest


def with_figures(report, *, bandwidth: float, fp16: float):
    """`report` as if its performance check had measured this bandwidth (GB/s) and FP16 rate (TFLOP/s)."""
    checks = [replace(c, metrics={**c.metrics, "memory_bandwidth_gbs": bandwidth, "fp16_tflops": fp16})
              if c.name == "performance" else c for c in report.checks]
    return replace(report, checks=checks)


@pytest.fixture
def certified(make_units, walk, healthy_report):
    """`n` certified cards of one lot; `figures`: a (bandwidth, fp16) pair per card."""

    def make(n=1, lot="RS-L1", figures=None, model="RTX 3080", **lot_fields):
        units = make_units(n if figures is None else len(figures), lot=lot, model=model, **lot_fields)
        if figures is None:
            return [walk(unit, "certified") for unit in units]
        return [walk(unit, "certified", report=with_figures(healthy_report, bandwidth=b, fp16=f))
                for unit, (b, f) in zip(units, figures, strict=True)]

    return make
