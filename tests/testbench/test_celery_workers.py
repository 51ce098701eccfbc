"""Orchestration against the real services: `manage.py bench worker` processes standing for bench hosts, each a
Celery worker on its own queue, on Redis and the suite's database. Runs are routed by seat, claimed once, cancelled
within seconds, and a worker SIGKILLed mid-run leaves an interrupted run and a card back in the queue.

These run in the PostgreSQL pass of `make test` (they need Redis and a database other processes can open)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from inventory.choices import UnitState
from inventory.models import Unit, UnitEvent
from testbench.choices import RunState
from testbench.models import Bench, BenchSlot, CheckResultRecord, TestRun
from testbench.plans import PLANS
from testbench.services import run_cancel_request, runs_queue, slot_seat

pytestmark = [pytest.mark.celery_workers, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("REFURB_TEST_BROKER_URL", "redis://127.0.0.1:6379/13")
STALE_AFTER_S = 6


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def broker(settings, catalog):
    """Tasks go to Redis, not in-process; the broker's database starts empty."""
    import redis

    from refurb.celery import app

    def fresh_connections():
        # This process's pooled broker connections may have been cut by an earlier test (the dropped-connections
        # test kills every client of the broker): start from new ones, whichever test ran before.
        from kombu import pools

        pools.reset()  # kombu's process-wide producer and connection pools
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REFURB_EMBEDDED = False
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=BROKER, task_always_eager=False)
    fresh_connections()
    yield client
    app.conf.update(saved)
    fresh_connections()
    client.flushdb()


@pytest.fixture
def start_bench(broker):
    processes = []

    def start(name: str, count: int, *, seed: int, faults: str = "healthy") -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": BROKER,
               "REFURB_RUN_HEARTBEAT_S": "1", "REFURB_SWEEP_INTERVAL_S": "1", "REFURB_BENCH_HEARTBEAT_S": "2",
               "REFURB_RUN_STALE_AFTER_S": str(STALE_AFTER_S)}
        process = subprocess.Popen(
            [sys.executable, "manage.py", "bench", "worker", "--bench", name, "--simulate", str(count),
             "--seed", str(seed), "--faults", faults, "--models", "geforce-rtx-3080", "--loglevel", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        # Up once it has registered its slots and seated a card in each.
        wait_for(lambda: BenchSlot.objects.filter(bench__name=name, unit__isnull=False).count() == count,
                 timeout=90, what=f"bench {name} to register", process=process)
        # And its Celery worker is consuming its queue (it answers a broadcast naming the queue).
        wait_for(lambda: consuming(f"bench.{name}"), timeout=60, what=f"bench {name}'s worker to consume",
                 process=process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def consuming(queue: str) -> bool:
    from refurb.celery import app

    replies = app.control.inspect(timeout=1.0).active_queues() or {}
    return any(q["name"] == queue for queues in replies.values() for q in queues)


def drained(broker, queue: str) -> bool:
    """Nothing left in the queue and nothing delivered but unacknowledged (kombu's Redis transport keeps those in
    the 'unacked' hash until the worker acks, which is after the task ran: acks_late)."""
    return broker.llen(queue) == 0 and broker.hlen("unacked") == 0


def wait_for(condition, *, timeout: float, what: str, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode} waiting for {what}: "
                                 f"{process.stderr.read()[-2000:]}")
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def seated_units(bench: str) -> list[Unit]:
    return [slot.unit for slot in BenchSlot.objects.select_related("unit").filter(bench__name=bench).order_by("index")]


def finished(runs) -> bool:
    return not TestRun.objects.filter(pk__in=[r.pk for r in runs], state__in=["queued", "running"]).exists()


def test_two_bench_hosts_run_a_batch_of_eight_routed_by_seat(start_bench):
    start_bench("host-a", 4, seed=0, faults="healthy,vram_stuck_bit")
    start_bench("host-b", 4, seed=1, faults="healthy,pcie_degraded")
    units = seated_units("host-a") + seated_units("host-b")
    runs = runs_queue(units=units, plan="quick")
    wait_for(lambda: finished(runs), timeout=180, what="8 runs to finish")

    for run, unit in zip(runs, units, strict=True):
        run.refresh_from_db()
        unit.refresh_from_db()
        assert run.bench == unit.seat.bench and run.worker.startswith(f"{run.bench.name}@")  # ran where seated
        assert CheckResultRecord.objects.filter(run=run).count() == len(PLANS["quick"])  # one result set
        assert TestRun.objects.filter(unit=unit).count() == 1
        expected_fail = "vram_stuck_bit" in run.faults
        assert run.state == (RunState.FAILED if expected_fail else RunState.PASSED), (run.faults, run.end_reason)
        assert unit.state == (UnitState.FAILED if expected_fail else UnitState.TESTED)
        assert run.identity["uuid"] == unit.nvml_uuid and run.software["torch"]
    assert not BenchSlot.objects.filter(run__isnull=False).exists()  # every slot released


def test_a_killed_worker_leaves_an_interrupted_run_and_the_card_reruns_elsewhere(start_bench):
    host_a = start_bench("host-a", 1, seed=0)
    start_bench("host-b", 1, seed=1)
    (unit,) = seated_units("host-a")
    (run,) = runs_queue(units=[unit], plan="burn-in")
    wait_for(lambda: TestRun.objects.filter(pk=run.pk, progress__check="thermal").exists(), timeout=90,
             what="the run to reach its thermal soak")
    host_a.kill()  # SIGKILL: no goodbye, no cleanup
    killed_at = time.monotonic()
    wait_for(lambda: TestRun.objects.filter(pk=run.pk, state=RunState.INTERRUPTED).exists(),
             timeout=STALE_AFTER_S + 15, what="host-b's sweep to interrupt the run")
    took = time.monotonic() - killed_at
    unit.refresh_from_db()
    run.refresh_from_db()
    assert unit.state == UnitState.QUEUED and "no heartbeat from host-a@" in run.end_reason
    event = UnitEvent.objects.filter(unit=unit).latest("id")
    assert (event.from_state, event.to_state) == ("testing", "queued") and "interrupted" in event.reason
    # Not before the run went silent for STALE_AFTER_S (its last heartbeat was at most 1 s before the kill).
    assert took >= STALE_AFTER_S - 1.5

    # The technician moves the card to host-b, which completes a rerun.
    slot_seat(slot=BenchSlot.objects.get(bench__name="host-b", index=0), unit=unit)
    (rerun,) = runs_queue(units=[unit], plan="quick")
    wait_for(lambda: finished([rerun]), timeout=90, what="the rerun on host-b")
    rerun.refresh_from_db()
    assert rerun.state == RunState.PASSED and rerun.bench.name == "host-b"
    assert Bench.objects.get(name="host-a").slots.get().run is None  # the dead host's slot was released


def test_a_running_run_is_cancelled_within_seconds(start_bench):
    start_bench("host-a", 1, seed=0)
    (unit,) = seated_units("host-a")
    (run,) = runs_queue(units=[unit], plan="burn-in")
    wait_for(lambda: TestRun.objects.filter(pk=run.pk, progress__check="thermal").exists(), timeout=90,
             what="the run to reach its thermal soak")
    live = TestRun.objects.get(pk=run.pk).progress  # what GET /api/runs/{id}/ shows while it runs
    assert live["fraction"] > 0 and live["telemetry"]["power_w"] > 0
    asked = time.monotonic()
    run_cancel_request(run=run, to_state=UnitState.ON_HOLD, reason="customer pulled the card")
    wait_for(lambda: TestRun.objects.filter(pk=run.pk, state=RunState.CANCELLED).exists(), timeout=10,
             what="the cancel")
    # Measured at 0.7 s (docs/orchestration.md); the bound leaves room for a loaded two-core CI machine, where a
    # card process deaf to the request is killed after CANCEL_GRACE_S (5 s).
    assert time.monotonic() - asked < 8.0
    unit.refresh_from_db()
    run.refresh_from_db()
    assert unit.state == UnitState.ON_HOLD and run.end_reason == "customer pulled the card"
    assert not CheckResultRecord.objects.filter(run=run).exists()


def test_a_message_delivered_twice_runs_once(start_bench, broker):
    from testbench.orchestration.tasks import run_execute_task

    start_bench("host-a", 1, seed=0)
    (unit,) = seated_units("host-a")
    (run,) = runs_queue(units=[unit], plan="quick")
    run_execute_task.delay(run.pk)  # the same message again, as a broker redelivering it would
    wait_for(lambda: finished([run]), timeout=90, what="the run")
    wait_for(lambda: drained(broker, "bench.host-a"), timeout=30, what="the second delivery to be handled")
    run.refresh_from_db()
    assert run.state == RunState.PASSED
    assert CheckResultRecord.objects.filter(run=run).count() == len(PLANS["quick"])
    assert UnitEvent.objects.filter(unit=unit, to_state="testing").count() == 1
    assert TestRun.objects.filter(unit=unit).count() == 1


def test_dropped_broker_and_database_connections_lose_no_result(start_bench, broker):
    start_bench("host-a", 1, seed=0)
    (unit,) = seated_units("host-a")
    (run,) = runs_queue(units=[unit], plan="standard")
    wait_for(lambda: TestRun.objects.filter(pk=run.pk, progress__check="compute").exists(), timeout=90,
             what="the run to be under way")
    # Every connection the bench worker holds goes: the broker's, then the database's (a restart, as they see it).
    assert broker.client_kill_filter(_type="normal", skipme=True) >= 1
    if connection.vendor == "postgresql":  # SQLite is a file: there is no server connection to drop
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            assert cursor.fetchone()[0] >= 1
    wait_for(lambda: finished([run]), timeout=90, what="the run to finish")
    run.refresh_from_db()
    assert run.state == RunState.PASSED, run.end_reason
    assert CheckResultRecord.objects.filter(run=run).count() == len(PLANS["standard"])
    # And the worker, reconnected, takes new work.
    (again,) = runs_queue(units=[unit], plan="quick")
    wait_for(lambda: finished([again]), timeout=90, what="a run after the reconnect")
    again.refresh_from_db()
    assert again.state == RunState.PASSED
