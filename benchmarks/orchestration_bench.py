"""Orchestration overhead per run: the time a run takes beyond its checks, over real bench workers.

Two `manage.py bench worker` processes (simulated cards) on Redis and a database; the benchmark keeps every slot
busy, queueing a quick run on each slot as soon as its previous run ends, until RUNS runs have finished. Per run,
overhead = (finished − queued) − the time its checks took: routing, the claim, spawning the card's process, opening
the card, heartbeats, storing results. Target: under 0.5 s per run.

    .venv/bin/python benchmarks/orchestration_bench.py [--runs 100] [--slots 1] [--json]

DATABASE_URL defaults to a scratch SQLite file; CELERY_BROKER_URL to redis://127.0.0.1:6379/12 (flushed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--slots", type=int, default=1, help="simulated cards per bench worker")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="refurb-orch-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
    os.environ.setdefault("REFURB_VAR_DIR", scratch)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refurb.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db.models import Sum

    from testbench.models import BenchSlot, CheckResultRecord, TestRun
    from testbench.services import runs_queue

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    call_command("migrate", verbosity=0)
    call_command("load_catalog", verbosity=0)
    workers = [subprocess.Popen([sys.executable, "manage.py", "bench", "worker", "--bench", f"orch-{i}",
                                 "--simulate", str(args.slots), "--seed", str(i), "--models", "geforce-rtx-3080",
                                 "--loglevel", "warning"], cwd=ROOT, env=os.environ.copy(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(2)]
    try:
        deadline = time.monotonic() + 120
        while BenchSlot.objects.filter(unit__isnull=False).count() < 2 * args.slots:
            if time.monotonic() > deadline:
                raise SystemExit("bench workers did not register")
            time.sleep(0.5)
        time.sleep(3)
        units = [slot.unit for slot in BenchSlot.objects.select_related("unit").filter(unit__isnull=False)]
        queued = 0
        started = time.monotonic()
        while True:
            busy = set(TestRun.objects.filter(state__in=["queued", "running"]).values_list("unit_id", flat=True))
            free = [u for u in units if u.pk not in busy]
            if queued < args.runs and free:
                batch = free[:args.runs - queued]
                runs_queue(units=batch, plan="quick")
                queued += len(batch)
            elif queued >= args.runs and not busy:
                break
            time.sleep(0.05)
        wall = time.monotonic() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)

    runs = list(TestRun.objects.filter(finished_at__isnull=False).annotate(checks=Sum("results__duration_s")))
    overheads = [(r.finished_at - r.created_at).total_seconds() - (r.checks or 0.0) for r in runs]
    report = {
        "runs": len(runs), "bench_workers": 2, "slots_per_worker": args.slots, "wall_s": round(wall, 1),
        "states": {s: sum(r.state == s for r in runs) for s in {r.state for r in runs}},
        "checks_s_mean": round(statistics.mean((r.checks or 0.0) for r in runs), 3),
        "overhead_s_mean": round(statistics.mean(overheads), 3),
        "overhead_s_median": round(statistics.median(overheads), 3),
        "overhead_s_p95": round(sorted(overheads)[int(0.95 * (len(overheads) - 1))], 3),
        "results_per_run": CheckResultRecord.objects.count() / max(1, len(runs)),
        "database": os.environ["DATABASE_URL"].split(":", 1)[0],
    }
    report["ratio_to_target"] = round(report["overhead_s_mean"] / TARGET_S, 2)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['runs']} quick runs over 2 bench workers × {args.slots} slot(s) in {report['wall_s']} s "
              f"({report['states']})")
        print(f"checks {report['checks_s_mean']} s per run; overhead mean {report['overhead_s_mean']} s, "
              f"median {report['overhead_s_median']} s, p95 {report['overhead_s_p95']} s "
              f"= {report['ratio_to_target']} × the {TARGET_S} s target")


if __name__ == "__main__":
    main()
