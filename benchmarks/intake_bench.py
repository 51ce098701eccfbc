"""Intake throughput: the largest allowed CSV batch, parsed, checked and imported, against its time limit.

    .venv/bin/python benchmarks/intake_bench.py                 # embedded SQLite in a temporary directory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/refurb_bench .venv/bin/python benchmarks/intake_bench.py

On PostgreSQL the named database is created if missing and emptied first. Prints one line per phase and the ratio
of the measured time to the limit (below 1.0 is within the limit).
"""

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROWS = 5000  # REFURB_INTAKE_MAX_ROWS default
LIMIT_S = 5.0  # a technician waits at most this long for the largest batch
MODELS = ["RTX 3080", "RTX 3070", "10de:2504", "RX 580 8GB", "P106-100", "CMP 90HX", "GTX 1080 Ti", "RTX A4000"]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refurb.settings")
os.environ.setdefault("REFURB_VAR_DIR", tempfile.mkdtemp(prefix="refurb-bench-"))
os.environ.pop("CELERY_BROKER_URL", None)


def prepare_database() -> str:
    import django
    from django.conf import settings

    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import dj_database_url
        import psycopg

        cfg = dj_database_url.parse(url)
        with psycopg.connect(dbname="postgres", user=cfg["USER"] or None, host=cfg["HOST"] or None,
                             port=cfg["PORT"] or None, password=cfg["PASSWORD"] or None, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}"')
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_catalog", verbosity=0, stdout=open(os.devnull, "w"))
    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]


def sheet(prefix: str) -> bytes:
    header = "model,board_vendor,serial,source_rig,notes,cost,location,cosmetic_grade\n"
    body = "".join(f"{MODELS[i % len(MODELS)]},MSI,{prefix}{i:07d},rig-{i // 8},,,S{i % 40},{'ABCD'[i % 4]}\n"
                   for i in range(ROWS))
    return (header + body).encode()


def main() -> None:
    backend = prepare_database()
    from inventory.services import intake_import, intake_parse_csv

    # Timed run, without tracing (tracemalloc slows Python down about twofold).
    content = sheet("TIME")
    started = time.perf_counter()
    rows = intake_parse_csv(content)
    parsed = time.perf_counter()
    _, units = intake_import(lot_reference="BENCH-TIME", rows=rows, lot_fields={"total_cost": "500000"},
                             actor_label="bench", source="benchmark")
    finished = time.perf_counter()
    assert len(units) == ROWS

    # Memory run: the same work on a second lot, traced.
    content = sheet("MEM")
    tracemalloc.start()
    intake_import(lot_reference="BENCH-MEM", rows=intake_parse_csv(content), actor_label="bench", source="benchmark")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    total = finished - started
    print(f"intake of {ROWS} rows on {backend}")
    print(f"  parse CSV           {parsed - started:7.3f} s")
    print(f"  check + import      {finished - parsed:7.3f} s")
    print(f"  total               {total:7.3f} s   limit {LIMIT_S:.1f} s   ratio {total / LIMIT_S:.2f}")
    print(f"  per row             {total / ROWS * 1e3:7.3f} ms")
    print(f"  peak Python memory  {peak / 2**20:7.1f} MiB (traced, second batch)")


if __name__ == "__main__":
    main()
