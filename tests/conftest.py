"""Shared fixtures: the catalog, a user per role, and API clients authenticated as them."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.test import APIClient

from inventory.models import GpuModel
from inventory.roles import ADMIN, RESELLER, TECHNICIAN, roles_sync
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
