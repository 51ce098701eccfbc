"""Certificates: PDF render time, and the public verify page under load.

1. Render: 50 certificates (simulated cards, real grades and signatures); each PDF rendered once more and timed.
   Target: median ≤ 0.5 s per certificate.
2. Verify page: gunicorn serves the project on loopback; a second process requests /verify/<id>/ for the 50
   certificates from CONCURRENCY connections for DURATION seconds. Target: ≥ 300 requests/s, no errors.
   The per-address rate limit (REFURB_VERIFY_RATE) is lifted for the run, since every request comes from 127.0.0.1.

    .venv/bin/python benchmarks/certificates_bench.py [--certificates 50] [--duration 20] [--concurrency 8]
        [--workers 5] [--json]

DATABASE_URL defaults to a scratch SQLite file (set it to a PostgreSQL URL to measure that).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RENDER_TARGET_S = 0.5
THROUGHPUT_TARGET = 300.0


def setup(count: int) -> list[str]:
    """Migrate a scratch database and certify `count` simulated cards; returns their public ids."""
    import django

    django.setup()
    import torch
    from django.core.management import call_command

    from grading.services import certificate_issue, unit_grade
    from inventory.services import IntakeRow, inspection_record, intake_import
    from testbench.hardware.faults import build_fault_plan
    from testbench.hardware.simulated import SimulatedDevice
    from testbench.models import Bench
    from testbench.plans import SIM_TIME_FACTOR, plan_for
    from testbench.reference import catalog_references
    from testbench.runner import run_plan
    from testbench.services import run_create, run_finish, run_start

    call_command("migrate", verbosity=0)
    call_command("load_catalog", stdout=open(os.devnull, "w"))  # noqa: SIM115
    torch.set_num_threads(1)
    reports = []
    for seed, profile in enumerate(("healthy", "pcie_degraded", "mining_vbios", "healthy")):
        memory = 32 * 2**20
        device = SimulatedDevice(seed=seed, time_scale=SIM_TIME_FACTOR, memory_bytes=memory,
                                 faults=build_fault_plan([profile], seed=seed, memory_bytes=memory))
        reports.append(run_plan(device, declared=catalog_references()["geforce-rtx-3080"],
                                plan=plan_for("quick", simulated=True)))
    rows = [IntakeRow(line=i + 2, values={"model": "RTX 3080", "board_vendor": "MSI", "serial": f"BENCH-{i:05d}"})
            for i in range(count)]
    _, units = intake_import(lot_reference="CERT-BENCH", rows=rows, actor_label="benchmark")
    bench, _ = Bench.objects.get_or_create(name="cert-bench", defaults={"simulated": True})
    ids = []
    for index, unit in enumerate(units):
        report = reports[index % len(reports)]
        inspection_record(unit=unit, cosmetic_grade="AB"[index % 2], fan_condition="ok")
        run = run_start(run=run_create(unit=unit, plan="quick", bench=bench), identity=report.identity, software={})
        run_finish(run=run, report=report)
        unit_grade(unit=unit)
        ids.append(certificate_issue(unit=unit).public_id)  # renders on commit (in-process without a broker)
    return ids


def render_times(ids: list[str]) -> list[float]:
    from grading.models import Certificate
    from grading.services.documents import certificate_pdf_bytes

    times = []
    for certificate in Certificate.objects.filter(public_id__in=ids):
        start = time.perf_counter()
        certificate_pdf_bytes(certificate)
        times.append(time.perf_counter() - start)
    if os.environ.get("BENCH_DEBUG"):
        print([round(t, 3) for t in times])
    return times


def load(port: int, ids: list[str], duration: float, concurrency: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def worker(offset: int) -> None:
        mine, bad, index = [], [], offset
        while time.perf_counter() < stop_at:
            path = f"/verify/{ids[index % len(ids)]}/"
            index += 1
            start = time.perf_counter()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                connection.close()
                if response.status != 200 or b"Valid." not in body:
                    bad.append(f"{response.status} {path}")
            except OSError as exc:
                bad.append(f"{type(exc).__name__} {path}")
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=worker, args=(i * 7,)) for i in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"requests": len(latencies), "seconds": round(elapsed, 2),
            "throughput_rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
            "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
            "errors": len(errors), "first_errors": errors[:5]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--certificates", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=5, help="gunicorn sync workers (2 × cores + 1)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="refurb-certs-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
    os.environ.setdefault("REFURB_VAR_DIR", scratch)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refurb.settings")
    sys.path.insert(0, str(ROOT))
    began = time.perf_counter()
    ids = setup(args.certificates)
    setup_s = time.perf_counter() - began
    times = render_times(ids)
    median = statistics.median(times)
    render = {"certificates": len(times), "median_s": round(median, 3), "mean_s": round(statistics.mean(times), 3),
              "p95_s": round(sorted(times)[int(len(times) * 0.95)], 3), "max_s": round(max(times), 3),
              "median_vs_target": round(median / RENDER_TARGET_S, 2)}

    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "REFURB_VERIFY_RATE": "1000000/s", "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "refurb.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/.well-known/refurb-keys.json")
                break
            except OSError:
                time.sleep(0.1)
        load(port, ids, 2.0, args.concurrency)  # warm every worker
        verify = load(port, ids, args.duration, args.concurrency)
    finally:
        server.terminate()
        server.wait(10)
    verify["throughput_vs_target"] = round(verify["throughput_rps"] / THROUGHPUT_TARGET, 2)
    verify.update({"workers": args.workers, "concurrency": args.concurrency,
                   "database": os.environ["DATABASE_URL"].split(":", 1)[0]})
    result = {"setup_s": round(setup_s, 1), "render": render, "verify_page": verify}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"PDF render, {render['certificates']} certificates: median {render['median_s']} s "
          f"(× {render['median_vs_target']} of the {RENDER_TARGET_S} s target), mean {render['mean_s']} s, "
          f"p95 {render['p95_s']} s")
    print(f"verify page, {verify['seconds']} s, {args.concurrency} connections, gunicorn {args.workers} workers, "
          f"{verify['database']}: {verify['throughput_rps']} req/s (× {verify['throughput_vs_target']} of the "
          f"{THROUGHPUT_TARGET:.0f} req/s target), p50 {verify['p50_ms']} ms, p99 {verify['p99_ms']} ms, "
          f"{verify['errors']} errors {verify['first_errors'] or ''}")


if __name__ == "__main__":
    main()
