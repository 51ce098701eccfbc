"""Shared fixtures: the catalog, a user per role, and API clients authenticated as them."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.test import APIClient

from core.roles import ADMIN, RESELLER, TECHNICIAN
from inventory.models import GpuModel
from inventory.roles import roles_sync
from inventory.services import IntakeRow, catalog_load, intake_import

ON_POSTGRES = connection.vendor == "postgresql"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        catalog_load()


@pytest.fixture
def catalog(db):
    # Transactional tests flush every table, so a later one may find the catalog (and groups) gone.
    if not GpuModel.objects.exists():
        catalog_load()
    return GpuModel.objects.all()


def _user(username: str, role: str | None):
    if not Group.objects.filter(name=role or TECHNICIAN).exists():
        roles_sync()
    user = get_user_model().objects.create_user(username=username, password=None, is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def technician(db):
    return _user("tina", TECHNICIAN)


@pytest.fixture
def reseller(db):
    return _user("rex", RESELLER)


@pytest.fixture
def admin_user(db):
    return _user("ada", ADMIN)


@pytest.fixture
def nobody(db):
    """Logged in, but with no refurb role."""
    return _user("noel", None)


@pytest.fixture
def client_for():
    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def card(model="RTX 3080", vendor="MSI", serial="SN0001", **extra):
    return {"model": model, "board_vendor": vendor, "serial": serial, **extra}


@pytest.fixture
def make_units(catalog):
    """Take `n` cards into a lot through the real intake service."""

    def make(n=3, lot="LOT-T1", model="RTX 3080", **lot_fields):
        rows = [IntakeRow(line=i + 2, values=card(model=model, serial=f"{lot}-{i:04d}")) for i in range(n)]
        return intake_import(lot_reference=lot, rows=rows, lot_fields=lot_fields or None, actor_label="test")[1]

    return make


@pytest.fixture(autouse=True)
def own_key_and_media(settings, tmp_path):
    """Each test signs with a key of its own, stores PDFs in its own folder and starts with no rate-limit counts,
    whichever tests ran before it (any test may issue or verify a certificate: the API fuzz does)."""
    from django.core.cache import cache

    from grading.keys import keyring_forget

    cache.clear()
    keyring_forget()
    settings.REFURB_SIGNING_KEY = ""
    settings.REFURB_SIGNING_KEY_FILE = tmp_path / "keys" / "signing.pem"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REFURB_PUBLIC_URL = "https://certs.example.test"
    return tmp_path


@pytest.fixture(scope="session")
def healthy_report():
    """One simulated quick run of a healthy RTX 3080, shared by the tests that need a card tested (read only)."""
    import torch

    from testbench.hardware.faults import build_fault_plan
    from testbench.hardware.simulated import SimulatedDevice
    from testbench.plans import SIM_TIME_FACTOR, plan_for
    from testbench.reference import catalog_references
    from testbench.runner import run_plan

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    memory = 32 * 2**20
    device = SimulatedDevice(seed=5, time_scale=SIM_TIME_FACTOR, memory_bytes=memory,
                             faults=build_fault_plan(["healthy"], seed=5, memory_bytes=memory))
    report = run_plan(device, declared=catalog_references()["geforce-rtx-3080"], plan=plan_for("quick", simulated=True))
    torch.set_num_threads(threads)
    return report


# The services' way to each state, for tests that need a card there: a person cannot set testing, tested, graded or
# certified, listed, sold or returned by hand (the lifecycle refuses), so a test walks the card through the runs,
# grading, certificates, a listing, its sale and a return.
WALK = ("inspected", "queued", "testing", "tested", "graded", "certified", "listed", "sold", "returned")


@pytest.fixture
def walk(healthy_report):
    from dataclasses import replace

    from grading.services import certificate_issue, unit_grade
    from inventory.services import inspection_record, unit_transition
    from resale.services import listing_create, listing_publish, listing_sell, return_receive
    from testbench.checks.base import CheckStatus
    from testbench.checks.findings import Finding
    from testbench.models import Bench
    from testbench.services import run_create, run_finish, run_start

    def to(unit, state: str, *, failing: bool = False, report=None):
        """Take `unit` from received to `state` the way a bench, grading and a reseller would. `failing`: the run
        fails (VRAM errors), and the walk ends at failed. `report`: the run's report (default: the healthy one)."""
        target = "failed" if state == "failed" else state
        steps = WALK[:WALK.index("tested") + 1] if target == "failed" else WALK[:WALK.index(target) + 1]
        bench, _ = Bench.objects.get_or_create(name="walk-bench", defaults={"simulated": True})
        run = None
        for step in steps:
            if step == "inspected":
                inspection_record(unit=unit, cosmetic_grade="A", fan_condition="ok")
            elif step == "queued":
                run = run_create(unit=unit, plan="quick", bench=bench)
            elif step == "testing":
                run = run_start(run=run, identity=(report or healthy_report).identity, software={})
            elif step == "tested":
                report = report or healthy_report
                if failing or target == "failed":
                    vram = next(c for c in report.checks if c.name == "vram")
                    bad = Finding("vram.scattered_errors", "fail", "2 bad bits", measured=2, threshold=0)
                    report = replace(report, verdict=CheckStatus.FAIL, checks=[
                        replace(vram, status=CheckStatus.FAIL, summary="2 bad bits", findings=[bad]) if c is vram
                        else c for c in report.checks])
                run_finish(run=run, report=report)
            elif step == "graded":
                unit_grade(unit=unit)
            elif step == "certified":
                certificate_issue(unit=unit)
            elif step == "listed":
                listing = listing_publish(listing=listing_create(units=[unit], channel="storefront", price="100"))
            elif step == "sold":
                order = listing_sell(listing=listing)
            elif step == "returned":
                return_receive(order=order, scanned_serial=unit.serial, reason="remorse")
            else:
                unit_transition(unit=unit, to_state=step)
        unit.refresh_from_db()
        assert unit.state == target, (unit.state, target)
        return unit

    return to
