"""A bench host serving its GPU slots: register the slots and the cards seated in them, keep sending heartbeats
(and sweep for runs whose worker died), and run a Celery worker on the bench's own queue with one slot per GPU."""

from __future__ import annotations

import logging
import socket
import threading
import time

from django.conf import settings
from django.db import connection

from ..hardware.discovery import DeviceSpec
from ..services import bench_heartbeat, bench_register, run_sweep

log = logging.getLogger(__name__)


def heartbeat_loop(bench, stop: threading.Event) -> None:
    """The bench's heartbeat every REFURB_BENCH_HEARTBEAT_S, and a sweep every REFURB_SWEEP_INTERVAL_S (0: none).
    Every live bench sweeps, so a warehouse needs no single scheduler: an interrupted run is marked once, under its
    row lock. A database that is briefly away is retried on the next beat."""
    sweep_every = settings.REFURB_SWEEP_INTERVAL_S
    beat_every = settings.REFURB_BENCH_HEARTBEAT_S
    step = min(v for v in (sweep_every, beat_every) if v) if sweep_every else beat_every
    last_beat = last_sweep = 0.0
    while not stop.wait(step):
        now = time.monotonic()
        try:
            if now - last_beat >= beat_every:
                bench_heartbeat(bench=bench)
                last_beat = now
            if sweep_every and now - last_sweep >= sweep_every:
                last_sweep = now
                for run in run_sweep():
                    log.warning("run %s interrupted: %s", run.pk, run.end_reason)
        except Exception as exc:  # the database restarting must not end the heartbeats
            log.warning("heartbeat of %s failed (%s); retrying", bench.name, exc)
            connection.close()
    connection.close()


def bench_host_serve(*, specs: list[DeviceSpec], simulated: bool, name: str, loglevel: str = "info", out=None):
    from refurb.celery import app

    host = socket.gethostname()
    devices = [(spec, spec.read_identity()) for spec in specs]
    bench, slots, refused, _ = bench_register(name=name, simulated=simulated, worker=f"{name}@{host}",
                                              devices=devices)
    if out is not None:
        out.write(f"bench {bench.name}: queue {bench.queue}, {len(slots)} slots")
        for slot in slots:
            seated = slot.unit.asset_tag if slot.unit_id else f"no card seated ({refused.get(slot.index, '')})"
            out.write(f"  slot {slot.index}: {slot.name} — {seated}")
    stop = threading.Event()
    beats = threading.Thread(target=heartbeat_loop, args=(bench, stop), name="refurb-heartbeat", daemon=True)
    beats.start()
    try:
        app.worker_main(["worker", "-Q", bench.queue, "-P", "threads", "-c", str(max(1, len(slots))),
                         "-n", f"{bench.name}@{host}", "--without-gossip", "--without-mingle", "-l", loglevel])
    finally:
        stop.set()
