"""What every check shares: statuses, results, progress reporting, cancellation and error handling."""

from __future__ import annotations

import enum
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..hardware.base import DeviceLost, GpuDevice
from .findings import Finding, Findings


class CheckStatus(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # the check could not run or finish (allocation, driver, lost device): never a pass

    @classmethod
    def worst(cls, statuses) -> CheckStatus:
        order = [cls.PASS, cls.WARN, cls.FAIL, cls.ERROR]
        return max(statuses, key=order.index, default=cls.PASS)


@dataclass
class CheckResult:
    name: str
    status: CheckStatus
    summary: str
    metrics: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    findings: list[Finding] = field(default_factory=list)  # what the grader reads; the summary is for people

    @classmethod
    def from_findings(cls, name: str, findings: Findings, passed: str, metrics: dict | None = None,
                      evidence: dict | None = None) -> CheckResult:
        """FAIL if any finding fails, WARN if any warns, else PASS with the `passed` summary."""
        status = CheckStatus.FAIL if findings.failed else CheckStatus.WARN if findings else CheckStatus.PASS
        return cls(name, status, findings.summary() if findings else passed, metrics or {}, evidence or {},
                   findings=list(findings))

    def as_dict(self) -> dict:
        return {"name": self.name, "status": str(self.status), "summary": self.summary, "metrics": self.metrics,
                "evidence": self.evidence, "duration_s": round(self.duration_s, 3),
                "findings": [f.as_dict() for f in self.findings]}


class Cancelled(Exception):
    """The run was cancelled; raised between chunks of work."""


class CheckCannotStart(Exception):
    """The check could not begin its work (e.g. no memory could be allocated)."""


ProgressCallback = Callable[[str, float, str], None]  # (check name, fraction 0..1, phase)


class CheckContext:
    """Handed to a check: the device, where to report progress, and whether to stop."""

    def __init__(self, device: GpuDevice, *, progress: ProgressCallback | None = None,
                 cancelled: Callable[[], bool] | None = None, min_report_interval_s: float = 0.2):
        self.device = device
        self._progress = progress
        self._cancelled = cancelled or (lambda: False)
        self._interval = min_report_interval_s
        self._last_report = 0.0
        self.check_name = ""

    def report(self, fraction: float, phase: str, *, force: bool = False) -> None:
        """Report progress (rate-limited, so checks may call it after every chunk) and stop if cancelled."""
        if self._cancelled():
            raise Cancelled(self.check_name)
        now = time.monotonic()
        if self._progress and (force or now - self._last_report >= self._interval):
            self._last_report = now
            self._progress(self.check_name, max(0.0, min(1.0, fraction)), phase)


def error_result(name: str, code: str, summary: str, evidence: dict) -> CheckResult:
    """A check that could not finish: ERROR, with the finding that says why (device.lost or check.error)."""
    return CheckResult(name, CheckStatus.ERROR, summary, evidence=evidence,
                       findings=[Finding(code, "fail", summary)])


def run_check(name: str, check: Callable[..., CheckResult], ctx: CheckContext, **params) -> CheckResult:
    """Run one check, turning what keeps it from finishing into an ERROR result (never a pass).
    Cancellation propagates: the run, not the check, decides what a cancel means."""
    ctx.check_name = name
    started = time.monotonic()
    ctx.report(0.0, "starting", force=True)
    try:
        result = check(ctx, **params)
    except Cancelled:
        raise
    except DeviceLost as exc:
        result = error_result(name, "device.lost", f"device lost: {exc.detail}", {"device_lost": exc.detail})
    except (CheckCannotStart, MemoryError) as exc:
        result = error_result(name, "check.error", f"could not start: {exc}", {"error": str(exc)})
    except RuntimeError as exc:  # torch raises RuntimeError for CUDA and allocator failures
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "CUDA error" in str(exc) or "cuda" in text.lower():
            # An asynchronous CUDA error surfaces in whatever op runs next: the card is gone for this run.
            result = error_result(name, "device.lost", f"device lost: {text}", {"device_lost": text})
        else:
            result = error_result(name, "check.error", f"driver or runtime error: {text}",
                                  {"error": str(exc), "traceback": traceback.format_exc(limit=5)})
    except Exception as exc:  # a fault in a check must not end the other checks or cards: report it as an error
        result = error_result(name, "check.error", f"internal error in the check: {type(exc).__name__}: {exc}",
                              {"error": repr(exc), "traceback": traceback.format_exc(limit=8)})
    result.name = name
    result.duration_s = time.monotonic() - started
    ctx.report(1.0, "done", force=True)
    return result
