"""The bench board: every bench and slot with the seated card and its run's progress; offline hosts and stale runs
said in words; start and cancel for those who may; the same queries for one bench or many."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from testbench.models import Bench, BenchSlot, TestRun
from testbench.services import run_create, run_heartbeat, run_start, slot_seat

from . import signed_in


def seated_bench(make_units, name: str, cards: int = 2, lot: str = "BRD-1"):
    bench = Bench.objects.create(name=name, simulated=False, last_seen_at=timezone.now())
    units = make_units(cards, lot=lot)
    for index, unit in enumerate(units):
        slot_seat(slot=BenchSlot.objects.create(bench=bench, index=index, name=f"RTX 3080 #{index}"), unit=unit)
    return bench, units


@pytest.mark.django_db
def test_the_board_shows_progress_telemetry_and_marks_offline_benches_and_stale_runs(make_units, technician,
                                                                                     settings):
    settings.REFURB_EMBEDDED = False  # benches are hosts of their own, heard from by heartbeat
    bench, (running, idle) = seated_bench(make_units, "bench-01")
    run = run_start(run=run_create(unit=running, plan="quick", slot=bench.slots.get(index=0)), identity={},
                    software={})
    run_heartbeat(run=run, progress={"check": "thermal", "phase": "soak 40/90 s", "fraction": 0.5, "telemetry": {
        "gpu_temp_c": 71.5, "sm_clock_mhz": 1710, "power_w": 301.4, "throttle": ["sw_power_cap"]}})
    TestRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(seconds=60))
    client = signed_in(technician)
    page = client.get("/bench/board/").content.decode()
    assert "thermal: soak 40/90 s" in page and "50 %" in page and "about 60 s left" in page
    assert "71.5 °C" in page and "1710 MHz" in page and "301 W" in page and "throttled: sw_power_cap" in page
    assert "offline" not in page and "stale" not in page and "Start</button>" in page and "Cancel run" in page
    Bench.objects.filter(pk=bench.pk).update(last_seen_at=timezone.now() - timedelta(minutes=5))
    TestRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=2))
    fragment = client.get("/bench/board/", {"fragment": "1"}).content.decode()
    assert "✖ offline: last heard 5" in fragment and "✖ stale: no word for 2" in fragment
    assert "<html" not in fragment  # the slots alone, for the live redraw


@pytest.mark.django_db
def test_start_and_cancel_from_the_board_for_those_who_may(make_units, technician, reseller):
    bench, (card, _) = seated_bench(make_units, "bench-02")
    slot = bench.slots.get(index=0)
    client = signed_in(technician)
    client.post("/bench/board/act/", {"action": "start", "slot": slot.pk, "plan": "quick"})
    run = TestRun.objects.get(unit=card)
    assert run.state == "queued"
    done = client.post("/bench/board/act/", {"action": "cancel", "run": run.pk}, follow=True).content.decode()
    assert "cancel asked" in done and TestRun.objects.get(pk=run.pk).state == "cancelled"
    empty = BenchSlot.objects.create(bench=bench, index=9)
    refused = client.post("/bench/board/act/", {"action": "start", "slot": empty.pk}, follow=True).content.decode()
    assert "slot: no card is seated there" in refused
    page = signed_in(reseller).get("/bench/board/").content.decode()
    assert "Start</button>" not in page and "bench-02" in page
    assert signed_in(reseller).post("/bench/board/act/", {"action": "start", "slot": slot.pk}).status_code == 403


@pytest.mark.django_db
def test_the_board_costs_the_same_queries_for_one_bench_or_many(make_units, technician):
    seated_bench(make_units, "bench-a", cards=1, lot="BRD-A")
    client = signed_in(technician)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            client.get("/bench/board/", {"fragment": "1"})
        return len(captured)

    few = queries()
    for n in range(3):
        bench, units = seated_bench(make_units, f"bench-{n}", cards=3, lot=f"BRD-{n}")
        run_create(unit=units[0], plan="quick", slot=bench.slots.get(index=0))
    assert queries() == few
