"""The bench API: benches with their slots, queueing runs on the bench where each card is seated, reading a run's
progress, cancelling. Without a broker (the embedded default) a queued run executes in the web process's
background thread through the same task code."""

import time

import pytest
from django.utils import timezone

from inventory.choices import UnitState
from testbench.choices import RunState
from testbench.hardware.discovery import simulated_specs
from testbench.models import TestRun
from testbench.plans import PLANS, SIM_TIME_FACTOR
from testbench.services import bench_register, run_start


@pytest.fixture
def seated(catalog):
    """A simulated bench of two slots, a card taken in and seated in each."""
    specs = simulated_specs(2, models=["geforce-rtx-3080"], time_scale=SIM_TIME_FACTOR)
    bench, slots, refused, taken_in = bench_register(name="bench-9", simulated=True, worker="bench-9@test",
                                                     devices=[(s, s.read_identity()) for s in specs])
    assert not refused and taken_in == {0, 1}
    return bench, [slot.unit for slot in slots]


@pytest.mark.django_db
def test_benches_list_their_slots_and_seated_cards(seated, technician, client_for):
    bench, units = seated
    body = client_for(technician).get("/api/benches/").json()
    (listed,) = body["results"]
    assert listed["name"] == "bench-9" and listed["queue"] == "bench.bench-9" and listed["online"] is True
    assert [s["unit"]["asset_tag"] for s in listed["slots"]] == [u.asset_tag for u in units]
    assert listed["slots"][0]["unit"]["model"] == "geforce-rtx-3080"


@pytest.mark.django_db
def test_queue_runs_on_the_seated_bench_and_read_progress(seated, technician, client_for):
    bench, units = seated
    client = client_for(technician)
    response = client.post("/api/runs/", {"units": [u.pk for u in units], "plan": "quick"}, format="json")
    assert response.status_code == 201, response.json()
    runs = response.json()
    assert [r["bench"] for r in runs] == ["bench-9", "bench-9"] and {r["state"] for r in runs} == {"queued"}

    run = TestRun.objects.get(pk=runs[0]["id"])
    run_start(run=run, worker="bench-9@test")
    asked = time.monotonic()
    TestRun.objects.filter(pk=run.pk).update(progress={"check": "vram", "phase": "moving inversions",
                                                       "fraction": 0.25},
                                             started_at=timezone.now() - timezone.timedelta(seconds=30))
    detail = client.get(f"/api/runs/{run.pk}/").json()
    late = time.monotonic() - asked  # the ETA grows with every second the request takes on a busy machine
    assert detail["state"] == "running" and detail["progress"]["check"] == "vram"
    assert 90 - 1 <= detail["eta_s"] <= 3 * (30 + late) + 1  # a quarter done in 30 s: three quarters to go
    assert detail["unit"]["state"] == "testing" and detail["results"] == []
    assert client.get("/api/runs/", {"state": "running"}).json()["count"] == 1


@pytest.mark.django_db
def test_queueing_is_all_or_nothing_with_reasons(seated, make_units, technician, reseller, client_for):
    bench, units = seated
    (loose,) = make_units(1, lot="L-LOOSE")
    client = client_for(technician)
    response = client.post("/api/runs/", {"units": [units[0].pk, loose.pk]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"units": [f"{loose.asset_tag} is not seated in a bench slot"]}
    assert not TestRun.objects.exists()
    assert client.post("/api/runs/", {"units": [units[0].pk], "plan": "forever"},
                       format="json").status_code == 400
    assert client.post("/api/runs/", {"units": []}, format="json").json() == {
        "units": ["This list may not be empty."]}
    assert client.post("/api/runs/", {"units": [987654]}, format="json").json() == {
        "units": ["no unit with id 987654"]}
    assert client.post("/api/runs/", {"units": [2**70]}, format="json").status_code == 400
    client.post("/api/runs/", {"units": [units[0].pk]}, format="json")
    again = client.post("/api/runs/", {"units": [units[0].pk]}, format="json")
    assert again.status_code == 400 and "already has a queued or running test run" in str(again.json())
    assert client_for(reseller).post("/api/runs/", {"units": [units[1].pk]}, format="json").status_code == 403
    from testbench.models import Bench

    Bench.objects.create(name="bench-elsewhere", simulated=True)
    wrong = client.post("/api/runs/", {"units": [units[1].pk], "bench": "bench-elsewhere"}, format="json")
    assert wrong.status_code == 400
    assert wrong.json() == {"units": [f"{units[1].asset_tag} is seated in bench-9, not bench-elsewhere"]}
    assert client.post("/api/runs/", {"units": [units[1].pk], "bench": "nope"}, format="json").status_code == 400
    assert client.post("/api/runs/", {"units": [units[1].pk], "bench": "bench-9"},
                       format="json").status_code == 201


@pytest.mark.django_db
def test_cancel_a_queued_run_at_once_and_ask_a_running_one_to_stop(seated, technician, client_for):
    bench, units = seated
    client = client_for(technician)
    queued, running = client.post("/api/runs/", {"units": [u.pk for u in units]}, format="json").json()
    response = client.post(f"/api/runs/{queued['id']}/cancel/", {"to": "on_hold", "reason": "wrong card"},
                           format="json")
    assert response.status_code == 202 and response.json()["state"] == "cancelled"
    units[0].refresh_from_db()
    assert units[0].state == UnitState.ON_HOLD

    run_start(run=TestRun.objects.get(pk=running["id"]))
    response = client.post(f"/api/runs/{running['id']}/cancel/", {}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "running" and body["cancel_requested_at"]  # its executor stops it within seconds

    assert client.post(f"/api/runs/{queued['id']}/cancel/", {}, format="json").status_code == 400
    assert client.post(f"/api/runs/{running['id']}/cancel/", {"to": "sold"}, format="json").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_a_queued_run_executes_in_the_background(seated, technician, client_for):
    bench, units = seated
    response = client_for(technician).post("/api/runs/", {"units": [units[0].pk]}, format="json")
    assert response.status_code == 201  # answered at once; the run executes after the response
    run_id = response.json()[0]["id"]
    deadline = time.monotonic() + 60
    while TestRun.objects.filter(pk=run_id, state__in=["queued", "running"]).exists():
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.3)
    run = TestRun.objects.get(pk=run_id)
    assert run.state == RunState.PASSED and run.results.count() == len(PLANS["quick"]) and run.worker


@pytest.mark.django_db
def test_the_admin_cancels_runs(seated, technician, reseller, client):
    bench, units = seated
    from testbench.services import runs_queue

    queued, running = runs_queue(units=units, plan="quick")
    run_start(run=running)
    client.force_login(technician)
    response = client.post("/admin/testbench/testrun/", {"action": "cancel_to_hold",
                                                         "_selected_action": [queued.pk, running.pk]}, follow=True)
    assert response.status_code == 200 and "2 run(s) cancelled or asked to stop" in response.content.decode()
    queued.refresh_from_db()
    running.refresh_from_db()
    units[0].refresh_from_db()
    assert queued.state == RunState.CANCELLED and units[0].state == UnitState.ON_HOLD
    assert running.cancel_requested_at and running.cancel_to == UnitState.ON_HOLD
    client.force_login(reseller)  # may look, may not cancel
    page = client.get("/admin/testbench/testrun/").content.decode()
    assert "cancel_to_hold" not in page
