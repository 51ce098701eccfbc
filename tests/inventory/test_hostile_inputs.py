"""Inputs that used to break things, by family: deep or huge JSON, spoofed client addresses, malformed and oversized
CSV, money beyond its columns, junk in lot fields and text, look-alike serials, and inspection photos that were
public. Each family is checked where it enters (API, admin, CLI, services) and, where it can be, over every field
of its kind rather than the one example that was reported."""

from __future__ import annotations

import importlib
import io
import re
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.test import Client
from PIL import Image
from rest_framework import serializers
from rest_framework.fields import _UnvalidatedField

from core.api.fields import JsonBoundsMixin
from core.errors import InvalidInput
from core.json_bounds import JSON_MAX_BYTES, JSON_MAX_DEPTH
from inventory.errors import IntakeRejected
from inventory.models import InspectionPhoto, Lot, Unit
from inventory.services import intake_import, intake_parse_csv, lot_update
from inventory.services.units import json_text_problem
from inventory.validators import BLOCK_TEXT, LINE_TEXT, currency_codes, serial_lookup_key, text_problem

ROOT = Path(__file__).resolve().parent.parent.parent
HEADER = "model,board_vendor,serial,source_rig,notes,cost,location,cosmetic_grade\n"
PROJECT_APPS = ("inventory", "testbench", "grading")
SERIALIZER_MODULES = ("inventory.api.serializers", "testbench.api.serializers", "grading.api.serializers")


def nested(depth: int, *, kind=dict):
    value: object = "bottom"
    for _ in range(depth):
        value = {"k": value} if kind is dict else [value]
    return value


def rejected(content: str, lot="LOT-H", **kwargs) -> list[tuple[int, str, str]]:
    with pytest.raises(IntakeRejected) as info:
        intake_import(lot_reference=lot, rows=intake_parse_csv(content), **kwargs)
    return [(e.line, e.field, e.message) for e in info.value.errors]


@cache
def request_bodies() -> frozenset[str]:
    """Serializers some operation reads its request with, by the schema's component names (LotRequest,
    PatchedUnitUpdateRequest: Lot, UnitUpdate). Every API view is in the schema (tests/test_project.py)."""
    from drf_spectacular.generators import SchemaGenerator

    names = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    return frozenset(re.sub(r"^Patched", "", name)[:-len("Request")] for name in names if name.endswith("Request"))


def project_serializers() -> list[type[serializers.BaseSerializer]]:
    """Every serializer of the project that reads input (those only describing answers, such as the public
    verification report, are left out)."""
    found = []
    for name in SERIALIZER_MODULES:
        module = importlib.import_module(name)
        found += [obj for obj in vars(module).values() if isinstance(obj, type)
                  and issubclass(obj, serializers.Serializer) and obj.__module__ == name
                  and obj.__name__.removesuffix("Serializer") in request_bodies()]
    return found


def writable_fields(serializer, path="", *, skip_service_checked=False):
    """(dotted name, field) of every field a client may write, nested serializers and list children included
    (with skip_service_checked, not those of serializers whose values a service checks instead)."""
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.ListSerializer):
            field = field.child
        if isinstance(field, serializers.Serializer):
            if not (skip_service_checked and getattr(field, "checked_by_service", False)):
                yield from writable_fields(field, f"{path}{name}.", skip_service_checked=skip_service_checked)
        else:
            yield f"{path}{name}", field


def free_shape(field) -> bool:
    """A field whose content the client shapes at will: JSON, or a dict/list of anything."""
    if isinstance(field, serializers.JSONField | serializers.HStoreField):
        return True
    if isinstance(field, serializers.DictField | serializers.ListField):
        return isinstance(field.child, _UnvalidatedField) or free_shape(field.child)
    return False


# --- 1. Deep or huge JSON -----------------------------------------------------------------------------------------

def test_every_free_json_field_of_every_serializer_is_bounded():
    checked = []
    for serializer_class in project_serializers():
        for name, field in writable_fields(serializer_class()):
            if not free_shape(field):
                continue
            where = f"{serializer_class.__name__}.{name}"
            assert isinstance(field, JsonBoundsMixin), f"{where} takes free JSON without a depth and size bound"
            kind = list if isinstance(field, serializers.ListField) else dict
            field.run_validation(nested(JSON_MAX_DEPTH - 1, kind=kind))  # within the bound: accepted
            for value, said in ((nested(500, kind=kind), "nested more than"),
                                (nested(JSON_MAX_DEPTH + 1, kind=kind), "nested more than"),
                                ({"k": "x" * JSON_MAX_BYTES} if kind is dict else ["x" * JSON_MAX_BYTES], "bytes")):
                with pytest.raises(serializers.ValidationError) as info:
                    field.run_validation(value)
                assert said in str(info.value.detail), where
            checked.append(where)
    assert "TransitionSerializer.payload" in checked  # the walk found the fields it exists for
    assert len(project_serializers()) >= 13


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [500, 5000])
def test_a_deep_transition_payload_is_a_400_naming_the_field(make_units, technician, client_for, depth):
    (unit,) = make_units(1, lot="DEEP")
    body = '{"to": "on_hold", "reason": "check", "payload": ' + "[" * depth + "]" * depth + "}"
    response = client_for(technician).post(f"/api/units/{unit.pk}/transition/", body,
                                           content_type="application/json")
    assert response.status_code == 400
    if depth == 500:  # parsed, then refused by the field
        assert "nested more than 32 levels" in response.json()["payload"][0]
    else:  # too deep for the parser itself
        assert "nested too deeply" in response.json()["detail"]
    unit.refresh_from_db()
    assert unit.state != "on_hold" and not unit.events.filter(to_state="on_hold").exists()


@pytest.mark.django_db
def test_a_huge_transition_payload_is_a_400_naming_the_field(make_units, technician, client_for):
    (unit,) = make_units(1, lot="HUGE")
    response = client_for(technician).post(f"/api/units/{unit.pk}/transition/", {
        "to": "on_hold", "reason": "check", "payload": {"blob": "x" * JSON_MAX_BYTES}}, format="json")
    assert response.status_code == 400 and "bytes" in response.json()["payload"][0]


@pytest.mark.django_db
def test_a_json_body_over_the_upload_cap_is_refused_before_parsing(make_units, technician, client_for, settings):
    # DRF reads a JSON body through request.body, which Django caps at DATA_UPLOAD_MAX_MEMORY_SIZE.
    (unit,) = make_units(1, lot="BODY")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    response = client_for(technician).post(f"/api/units/{unit.pk}/transition/", {
        "to": "on_hold", "reason": "x" * 5000}, format="json")
    assert response.status_code == 400
    response = client_for(technician).post(f"/api/units/{unit.pk}/transition/", {"to": "on_hold", "reason": "ok"},
                                           format="json")
    assert response.status_code == 200


def test_json_text_problem_walks_any_depth_without_recursion():
    assert json_text_problem(nested(100_000)) == ""
    deep_nul = nested(100_000, kind=list)
    inner = deep_nul
    for _ in range(99_999):
        inner = inner[0]
    inner[0] = "nul\x00"
    assert "NUL" in json_text_problem(deep_nul)
    looped: dict = {}
    looped["self"] = looped
    assert json_text_problem(looped) == ""  # ends


@pytest.mark.django_db
def test_the_catalog_admin_refuses_deep_json_with_a_form_error(admin_user, catalog):
    client = Client()
    client.force_login(admin_user)
    model = catalog.first()
    page = client.get(f"/admin/inventory/gpumodel/{model.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    for aliases, said in (("[" * 5000 + "]" * 5000, "nested too deeply"), ("[" * 100 + "]" * 100, "nested more than")):
        data["aliases"] = aliases
        response = client.post(f"/admin/inventory/gpumodel/{model.pk}/change/", data)
        assert response.status_code == 200 and said in response.content.decode()
    model.refresh_from_db()
    assert isinstance(model.aliases, list) and len(str(model.aliases)) < 1000


# --- 2. Client addresses behind (or without) a proxy ----------------------------------------------------------------

def test_an_unset_proxy_count_means_the_socket_address(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "REFURB_NUM_PROXIES"}
    env["REFURB_VAR_DIR"] = str(tmp_path)
    code = ("from rest_framework.settings import api_settings; from django.test import RequestFactory; "
            "from grading.throttles import VerifyRateThrottle; "
            "r = RequestFactory().get('/', REMOTE_ADDR='192.0.2.1', HTTP_X_FORWARDED_FOR='198.51.100.9'); "
            "print(api_settings.NUM_PROXIES, VerifyRateThrottle().get_ident(r))")
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["0", "192.0.2.1"], result.stdout + result.stderr
    env["REFURB_NUM_PROXIES"] = "-1"
    refused = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0 and "REFURB_NUM_PROXIES" in refused.stderr


VERIFY_ENDPOINTS = ["/verify/{id}/", "/verify/{id}/certificate.pdf", "/?q=SN-{n}", "/api/certificates/{id}/verify/"]
PUBLIC_ID = "0" * 28


@pytest.mark.django_db
@pytest.mark.parametrize("path", VERIFY_ENDPOINTS)
def test_spoofed_forwarded_for_addresses_do_not_escape_the_verify_limit(path, settings):
    settings.REFURB_VERIFY_RATE = "5/min"
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    client = Client()
    answers = [client.get(path.format(id=PUBLIC_ID, n=n), REMOTE_ADDR="192.0.2.10",
                          HTTP_X_FORWARDED_FOR=f"198.51.{n // 250}.{n % 250}").status_code for n in range(200)]
    assert sum(code != 429 for code in answers) == 5 and answers[5:] == [429] * 195
    # Another client (another socket address) still gets its own allowance.
    assert client.get(path.format(id=PUBLIC_ID, n=0), REMOTE_ADDR="192.0.2.11").status_code != 429


@pytest.mark.django_db
@pytest.mark.parametrize("path", VERIFY_ENDPOINTS)
def test_behind_one_proxy_the_address_it_appended_is_the_client(path, settings):
    settings.REFURB_VERIFY_RATE = "5/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = Client()
    # The client writes what it likes in front; the proxy appends the address it saw.
    answers = [client.get(path.format(id=PUBLIC_ID, n=n), REMOTE_ADDR="10.0.0.2",
                          HTTP_X_FORWARDED_FOR=f"198.51.100.{n % 250}, 203.0.113.7").status_code for n in range(200)]
    assert sum(code != 429 for code in answers) == 5
    # Through the same proxy, another client is counted apart.
    other = client.get(path.format(id=PUBLIC_ID, n=1), REMOTE_ADDR="10.0.0.2",
                       HTTP_X_FORWARDED_FOR="203.0.113.7, 203.0.113.8")
    assert other.status_code != 429


# --- 3. CSV intake: quotes, size, dry runs, money ---------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("content, line", [
    (HEADER + 'RTX 3080,MSI,Q-1,,,,,\n"RTX 3080,MSI,Q-2,,,,,\nRTX 3080,MSI,Q-3,,,,,\nRTX 3080,MSI,Q-4,,,,,\n', 3),
    (HEADER + 'RTX 3080,MSI,Q-1,,"two\nlines",,,\nRTX 3080,MSI,Q-2,,"open,,,\nRTX 3080,MSI,Q-3,,,,,\n', 4),
    (HEADER + 'RTX 3080,MSI,Q-1,,,,,\nRTX 3080,MSI,Q-2,,,,,\nRTX 3080,MSI,"Q-3,,,,,', 4),
    ("model;board_vendor;serial\nRTX 3080;MSI;Q-1\nRTX 3080;MSI;\"Q-2\nRTX 3080;MSI;Q-3\n", 3),
])
def test_an_unterminated_quote_is_refused_at_the_line_it_opened(catalog, content, line):
    errors = rejected(content)
    assert [(e_line, field) for e_line, field, _ in errors] == [(line, "row")]
    assert "never closed" in errors[0][2]
    assert not Unit.objects.exists() and not Lot.objects.filter(reference="LOT-H").exists()


@pytest.mark.django_db
def test_text_after_a_closing_quote_is_refused_not_joined(catalog):
    (error,) = rejected(HEADER + 'RTX 3080,MSI,"Q-1"X,,,,,\n')
    assert error[:2] == (2, "row") and "expected after" in error[2]


@pytest.fixture
def small_limit(settings, monkeypatch):
    """Intake files of at most 2 KiB, and proof that a larger one is never parsed."""
    settings.REFURB_INTAKE_MAX_BYTES = 2048

    def never(*args, **kwargs):
        raise AssertionError("an oversized file was parsed")

    monkeypatch.setattr("inventory.services.sheets._decode", never)
    return HEADER + "".join(f"RTX 3080,MSI,BIG-{i:05d},,,,,\n" for i in range(200))


@pytest.mark.django_db
def test_an_oversized_upload_is_refused_before_parsing_api(make_units, admin_user, client_for, small_limit):
    lot = make_units(1, lot="SIZE-API")[0].lot
    upload = SimpleUploadedFile("big.csv", small_limit.encode(), content_type="text/csv")
    response = client_for(admin_user).post(f"/api/lots/{lot.pk}/intake/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "file" and "at most 2 KiB" in error["message"]
    assert "REFURB_INTAKE_MAX_BYTES" in error["message"] and lot.units.count() == 1


@pytest.mark.django_db
def test_an_oversized_upload_is_refused_before_parsing_admin(make_units, admin_user, small_limit):
    lot = make_units(1, lot="SIZE-ADM")[0].lot
    client = Client()
    client.force_login(admin_user)
    upload = SimpleUploadedFile("big.csv", small_limit.encode(), content_type="text/csv")
    response = client.post(f"/admin/inventory/lot/{lot.pk}/intake/", {"csv_file": upload})
    assert response.status_code == 200 and "at most 2 KiB" in response.content.decode()
    assert lot.units.count() == 1


@pytest.mark.django_db
def test_an_oversized_file_is_refused_before_parsing_cli(catalog, tmp_path, small_limit):
    sheet = tmp_path / "big.csv"
    sheet.write_text(small_limit)
    with pytest.raises(CommandError, match=r"at most 2 KiB"):
        call_command("intake", "--lot", "SIZE-CLI", "--csv", str(sheet))
    assert not Lot.objects.filter(reference="SIZE-CLI").exists()


BAD_LOT_FIELDS = [
    ({"total_cost": Decimal("1e30")}, "total_cost"),
    ({"total_cost": Decimal("NaN")}, "total_cost"),
    ({"total_cost": Decimal("-1")}, "total_cost"),
    ({"currency": "AAA"}, "currency"),
    ({"purchased_on": date(1505, 3, 1)}, "purchased_on"),
    ({"supplier": "Miner\u202eJoe"}, "supplier"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("lot_exists", [False, True])
@pytest.mark.parametrize("fields, bad", BAD_LOT_FIELDS)
def test_a_dry_run_checks_exactly_what_the_real_run_checks(make_units, fields, bad, lot_exists):
    if lot_exists:
        make_units(1, lot="PARITY")
    rows = intake_parse_csv(HEADER + "RTX 3080,MSI,PAR-1,,,,,\n")
    answers = []
    for dry_run in (True, False):
        with pytest.raises(InvalidInput) as info:
            intake_import(lot_reference="PARITY", rows=rows, lot_fields=fields, dry_run=dry_run)
        answers.append(info.value.errors)
    assert answers[0] == answers[1] and set(answers[0]) == {bad}
    assert not Unit.objects.filter(serial="PAR-1").exists()


@pytest.mark.django_db
def test_a_dry_run_refuses_the_rows_the_real_run_refuses(make_units):
    make_units(1, lot="PARITY2")
    content = HEADER + "RTX 3080,MSI,LOT-T1-X,,,1e26,,\nRTX 9999,MSI,P-2,,,,,\nRTX 3080,MSI,PARITY2-0000,,,,,\n"
    dry = rejected(content, lot="PARITY2", dry_run=True)
    assert dry == rejected(content, lot="PARITY2") and {e[:2] for e in dry} == {(2, "cost"), (3, "model"),
                                                                                 (4, "serial")}


@pytest.mark.django_db
@pytest.mark.parametrize("cost, said", [
    ("1e26", "plain digits"), ("100000000000", "too large"), ("99999999999.99", "too large"), ("NaN", "not a number"),
    ("Infinity", "not a number"), ("-inf", "not a number"), ("sNaN", "not a number"), ("-1", "negative"),
    ("1.005", "decimal places"), ("12,5.0", "not a number"),
])
def test_a_card_cost_beyond_its_column_is_a_row_error(catalog, cost, said):
    (error,) = rejected(HEADER + f'RTX 3080,MSI,M-1,,,"{cost}",,\n')
    assert error[:2] == (2, "cost") and said in error[2]


@pytest.mark.django_db
def test_the_largest_cost_the_column_holds_is_taken(catalog):
    rows = intake_parse_csv(HEADER + "RTX 3080,MSI,M-2,,,9999999999.99,,\n")
    _, (unit,) = intake_import(lot_reference="MAX", rows=rows)
    unit.refresh_from_db()
    assert unit.cost_given == Decimal("9999999999.99")


@pytest.mark.django_db
@pytest.mark.parametrize("args, said", [
    (["--total-cost", "1e30", "--dry-run"], "--total-cost"),
    (["--total-cost", "1e26"], "--total-cost"),
    (["--total-cost", "NaN"], "--total-cost"),
    (["--total-cost", "Infinity", "--dry-run"], "--total-cost"),
    (["--cost", "1e26"], "cost"),
    (["--cost", "NaN", "--dry-run"], "cost"),
    (["--purchased-on", "1505-03-01"], "--purchased-on"),
    (["--purchased-on", "2020-13-01"], "--purchased-on"),
    (["--currency", "AAA", "--dry-run"], "--currency"),
    (["--currency", "usd"], "--currency"),
])
def test_the_cli_refuses_bad_lot_and_money_options_with_a_message(catalog, args, said):
    with pytest.raises(CommandError) as info:
        call_command("intake", "--lot", "CLI-BAD", "--model", "RTX 3080", "--vendor", "MSI", "--serial", "C-1", *args)
    assert said in str(info.value)
    assert not Lot.objects.filter(reference="CLI-BAD").exists() and not Unit.objects.filter(serial="C-1").exists()


@pytest.mark.django_db(transaction=True)
def test_the_cli_answers_bad_options_without_a_traceback(catalog, tmp_path):
    from tests.inventory.test_intake import _subprocess_env

    for args in (["--total-cost", "1e26"], ["--cost", "1e26"], ["--purchased-on", "1505-01-01"]):
        result = subprocess.run([sys.executable, "manage.py", "intake", "--lot", "SUB", "--model", "RTX 3080",
                                 "--vendor", "MSI", "--serial", "S-1", *args], cwd=ROOT, env=_subprocess_env(),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert args[0].lstrip("-").replace("-", "_") in result.stderr.replace("-", "_"), result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("total_cost", ["1e26", "100000000000.00", "NaN", "Infinity", "-Infinity", "-1", "0.001"])
def test_the_api_refuses_a_lot_cost_beyond_its_column(admin_user, client_for, total_cost):
    response = client_for(admin_user).post("/api/lots/", {"reference": "API-COST", "total_cost": total_cost},
                                           format="json")
    assert response.status_code == 400 and "total_cost" in response.json()
    assert not Lot.objects.filter(reference="API-COST").exists()


@pytest.mark.django_db
def test_the_api_refuses_a_json_number_cost_beyond_its_column(make_units, admin_user, client_for):
    lot = make_units(1, lot="API-NUM")[0].lot
    body = '{"total_cost": 1e26}'
    response = client_for(admin_user).patch(f"/api/lots/{lot.pk}/", body, content_type="application/json")
    assert response.status_code == 400 and "total_cost" in response.json()
    body = '{"units": [{"model": "RTX 3080", "board_vendor": "MSI", "serial": "N-1", "cost": 1e26}]}'
    response = client_for(admin_user).post(f"/api/lots/{lot.pk}/intake/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "cost"


@pytest.mark.django_db
def test_the_admin_and_services_refuse_a_lot_cost_beyond_its_column(make_units, admin_user):
    lot = make_units(1, lot="ADM-COST")[0].lot
    with pytest.raises(InvalidInput) as info:
        lot_update(lot=lot, total_cost=Decimal("1e26"))
    assert "total_cost" in info.value.errors
    client = Client()
    client.force_login(admin_user)
    response = client.post("/admin/inventory/lot/add/", {"reference": "ADM-COST-2", "total_cost": "1e26",
                                                         "currency": "USD"})
    assert response.status_code == 200 and "no more than 12 digits" in response.content.decode()
    assert not Lot.objects.filter(reference="ADM-COST-2").exists()


# --- 4. Lot fields and text everywhere ----------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("field, value, said", [
    ("reference", "LOT\x071", "U+0007"),
    ("reference", "LOT\u200b1", "U+200B ZERO WIDTH SPACE"),
    ("reference", "LOT\u20281", "U+2028 LINE SEPARATOR"),
    ("supplier", "Joe\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("notes", "fine\nbut\x1b[2J", "U+001B ESCAPE"),
    ("notes", "lone\rreturn", "U+000D CARRIAGE RETURN"),
    ("currency", "AAA", "ISO 4217"),
    ("currency", "usd", "upper case: USD"),
    ("currency", "XXX", "ISO 4217"),
    ("purchased_on", "1505-03-01", "before 2009-01-01"),
    ("purchased_on", (date.today() + timedelta(days=3)).isoformat(), "in the future"),
])
def test_lot_fields_refuse_junk_with_a_field_error(admin_user, client_for, field, value, said):
    body = {"reference": "JUNK-1", field: value}
    response = client_for(admin_user).post("/api/lots/", body, format="json")
    assert response.status_code == 400 and said in " ".join(response.json()[field])
    assert not Lot.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field, value", [
    ("currency", "EUR"), ("currency", "ZWG"), ("purchased_on", "2009-01-01"),
    ("purchased_on", date.today().isoformat()), ("notes", "line one\r\nline two\n\tindented"),
    ("supplier", "Müller & Søn — 矿工"),
])
def test_lot_fields_take_what_is_plausible(admin_user, client_for, field, value):
    response = client_for(admin_user).post("/api/lots/", {"reference": "OK-1", field: value}, format="json")
    assert response.status_code == 201, response.json()


def test_the_currency_list_holds_current_codes_only():
    codes = currency_codes()
    assert {"USD", "EUR", "GBP", "JPY", "CNY", "CHF", "ZWG", "XCG"} <= codes
    assert not {"AAA", "HRK", "ZWL", "XTS", "XXX", "usd"} & codes
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in codes) and len(codes) > 150


def test_a_bad_default_currency_stops_start_up(tmp_path):
    import os

    env = {**os.environ, "REFURB_DEFAULT_CURRENCY": "AAA", "REFURB_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "REFURB_DEFAULT_CURRENCY" in result.stderr


def project_text_fields():
    for label in PROJECT_APPS:
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.get_fields():
                if isinstance(field, models.CharField | models.TextField):
                    yield f"{label}.{model.__name__}.{field.name}", field


def test_every_text_field_of_the_project_models_refuses_control_and_format_characters():
    fields = dict(project_text_fields())
    assert len(fields) > 60  # the walk reaches all three apps
    lacking = [name for name, field in fields.items()
               if (BLOCK_TEXT if isinstance(field, models.TextField) else LINE_TEXT) not in field.validators]
    assert lacking == []
    for name, field in fields.items():
        with pytest.raises(ValidationError) as info:
            field.run_validators("a\u200bb")
        assert "U+200B" in str(info.value), name
        if isinstance(field, models.TextField):
            field.run_validators("one\r\ntwo\n\tthree")  # multi-line text keeps its line breaks and tabs
        else:
            with pytest.raises(ValidationError):
                field.run_validators("one\ntwo")


@pytest.mark.django_db  # a unique field's validator asks the database
def test_every_writable_text_field_of_the_api_refuses_control_and_format_characters():
    checked = []
    for serializer_class in project_serializers():
        if getattr(serializer_class, "checked_by_service", False):
            continue  # the intake service checks these, by line and field: next test
        for name, field in writable_fields(serializer_class(), skip_service_checked=True):
            if type(field) is not serializers.CharField:
                continue
            with pytest.raises(serializers.ValidationError):
                field.run_validation("a\u2066b")
            checked.append(f"{serializer_class.__name__}.{name}")
    assert {"TransitionSerializer.reason", "UnitUpdateSerializer.notes", "LotSerializer.reference",
            "RunCancelSerializer.reason", "CertificateRevokeSerializer.reason"} <= set(checked)


@pytest.mark.django_db
@pytest.mark.parametrize("column", ["model", "board_vendor", "serial", "source_rig", "notes", "location",
                                    "cosmetic_grade", "board_part_number", "vbios_version", "cost"])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u200b", "\u202e", "\ufeff"])
def test_intake_refuses_control_and_format_characters_in_every_column(catalog, column, char):
    values = {"model": "RTX 3080", "board_vendor": "MSI", "serial": "CF-1", column: f"X{char}Y"}
    header = ",".join(values)
    errors = rejected(header + "\n" + ",".join(f'"{v}"' for v in values.values()) + "\n")
    assert (2, column) in {e[:2] for e in errors}
    assert f"U+{ord(char):04X}" in next(e[2] for e in errors if e[1] == column)


@pytest.mark.django_db
def test_admin_forms_get_the_text_check(make_units, admin_user):
    unit = make_units(1, lot="ADM-TXT")[0]
    client = Client()
    client.force_login(admin_user)
    response = client.post("/admin/inventory/lot/add/", {"reference": "ADM\u200bLOT", "currency": "USD",
                                                         "total_cost": "0"})
    assert response.status_code == 200 and "U+200B" in response.content.decode()
    response = client.post(f"/admin/inventory/unit/{unit.pk}/change/", {
        "location": "B3", "notes": "ok", "source_rig": "rig\x1b", "board_part_number": "", "vbios_version": "",
        "transition_to": "", "transition_reason": "", "inspections-TOTAL_FORMS": "0",
        "inspections-INITIAL_FORMS": "0", "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"})
    assert response.status_code == 200 and "U+001B" in response.content.decode()
    unit.refresh_from_db()
    assert unit.source_rig == "" and not Lot.objects.filter(reference__startswith="ADM\u200b").exists()


@pytest.mark.parametrize("value, multiline, said", [
    ("plain", False, ""), ("émoji 🚀 and 中文", False, ""), ("a\u00adb", False, "U+00AD SOFT HYPHEN"),
    ("a\tb", False, "U+0009"), ("a\tb\nc\r\nd", True, ""), ("a\rb", True, "U+000D"), ("\x85", True, "U+0085"),
    ("a\ud800", False, "U+D800"),
])
def test_text_problem_names_the_first_offending_character(value, multiline, said):
    problem = text_problem(value, multiline=multiline)
    assert (said in problem) if said else problem == ""


# --- 5. Look-alike serials ----------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("serial, said", [("SN\u200bZW", "U+200B ZERO WIDTH SPACE"),
                                          ("SNZW\u200d", "U+200D ZERO WIDTH JOINER"),
                                          ("\u2060SNZW", "U+2060 WORD JOINER"),
                                          ("SN\x7fZW", "U+007F DELETE")])
def test_a_serial_with_an_invisible_character_is_refused_naming_it(catalog, serial, said):
    (error,) = rejected(HEADER + f"RTX 3080,MSI,{serial},,,,,\n")
    assert error[:2] == (2, "serial") and said in error[2]


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["SN\u00a0ZW", "sn zw", "S N Z W", "\uff33\uff2e\uff3a\uff37", "SN\u3000ZW",
                                   "SN\u2009ZW"])
def test_look_alike_serials_are_one_serial(catalog, typed):
    _, (unit,) = intake_import(lot_reference="LOOK", rows=intake_parse_csv(HEADER + f"RTX 3080,MSI,{typed},,,,,\n"))
    assert unit.serial == "SNZW"
    (error,) = rejected(HEADER + "RTX 3080,MSI,SNZW,,,,,\n")  # against the database
    assert error[:2] == (2, "serial") and "already in inventory" in error[2]
    errors = rejected(HEADER + f"RTX 3080,EVGA,SNZW,,,,,\nRTX 3080,EVGA,{typed},,,,,\n")  # within one file
    assert [e[:2] for e in errors] == [(3, "serial")] and "also on line 2" in errors[0][2]


@pytest.mark.django_db
def test_a_full_width_maker_is_the_same_maker(catalog):
    intake_import(lot_reference="FW", rows=intake_parse_csv(HEADER + "RTX 3080,MSI,FW-1,,,,,\n"))
    (error,) = rejected(HEADER + "RTX 3080,\uff2d\uff33\uff29,FW-1,,,,,\n")
    assert error[:2] == (2, "serial") and "already in inventory" in error[2]


@pytest.mark.django_db
def test_the_public_lookup_and_the_bench_see_through_look_alikes(make_units):
    from grading.models import Certificate, Grade
    from grading.services import certificates_for_serial
    from testbench.models import Bench, TestRun
    from testbench.services.benches import unit_for_device

    _, (unit,) = intake_import(lot_reference="LOOKUP", rows=intake_parse_csv(HEADER + "RTX 3080,MSI,SN 2104,,,,,\n"))
    run = TestRun.objects.create(unit=unit, plan="quick", state="finished")
    grade = Grade.objects.create(unit=unit, run=run, functional="F-A", policy_version="t", disposition="graded",
                                 is_current=True)
    # Superseded (the card went back for a retest), so that the bench may seat it: a card whose certificate is
    # valid keeps the identity the certificate states (tests/grading/test_lifecycle_integrity.py).
    certificate = Certificate.objects.create(public_id="1" * 28, unit=unit, run=run, grade=grade, payload={},
                                             canonical="{}", signature="s", key_id="k", status="superseded")
    for typed in ("SN2104", "sn 2104", "SN\u200b2104", "\uff33\uff2e\u00a02104", " s n 2 1 0 4 "):
        assert certificates_for_serial(typed) == [certificate], typed
    assert certificates_for_serial("SN-2104") == []  # a hyphen is printed on the sticker: part of the serial
    bench = Bench.objects.create(name="look-bench", simulated=True)
    identity = {"uuid": "GPU-look", "serial": "sn\u200b2104 ", "name": "NVIDIA GeForce RTX 3080",
                "pci_vendor_id": "10de", "pci_device_id": "2206", "pci_subsystem_id": "38971462", "bus_id": "0"}
    found, taken_in = unit_for_device(identity=identity, bench=bench, require_testable=False)
    assert found.pk == unit.pk and not taken_in


@pytest.mark.django_db
def test_serials_stored_before_normalising_are_rewritten_unless_they_collide(make_units):
    migration = importlib.import_module("inventory.migrations.0007_serials_normalize")
    (seed,) = make_units(1, lot="MIG")
    raw = {"RF-MIG0-0001": "sn 0001", "RF-MIG0-0002": "AB\u200bC", "RF-MIG0-0003": "DUP 1",
           "RF-MIG0-0004": "DUP\u00a01", "RF-MIG0-0005": "\u200b"}
    for tag, serial in raw.items():
        Unit.objects.create(asset_tag=tag, gpu_model=seed.gpu_model, lot=seed.lot, board_vendor="MSI", serial=serial)
    migration.normalize_serials(apps, None)
    stored = dict(Unit.objects.filter(asset_tag__in=raw).values_list("asset_tag", "serial"))
    assert stored == {"RF-MIG0-0001": "SN0001", "RF-MIG0-0002": "ABC", "RF-MIG0-0003": "DUP1",
                      "RF-MIG0-0004": "DUP\u00a01", "RF-MIG0-0005": "\u200b"}


def test_serial_lookup_key_matches_what_intake_stores():
    assert serial_lookup_key("  sn\u200b 12\u00a034 ") == "SN1234"
    assert serial_lookup_key("") == ""


# --- 6. Inspection photos -----------------------------------------------------------------------------------------

def _png(name="customer-anna-smith.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), "blue").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def photo(make_units, technician, client_for):
    (unit,) = make_units(1, lot="PHOTO")
    response = client_for(technician).post(f"/api/units/{unit.pk}/inspection/", {
        "cosmetic_grade": "B", "fan_condition": "ok", "photos": [_png()]}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["photos"][0]


@pytest.mark.django_db
def test_photos_are_stored_under_random_names_and_keep_the_original_as_metadata(photo):
    stored = InspectionPhoto.objects.get(pk=photo["id"])
    assert re.fullmatch(r"inspections/\d{4}/\d{2}/[0-9a-f]{32}\.png", stored.image.name), stored.image.name
    assert "anna" not in stored.image.name and stored.original_name == "customer-anna-smith.png"
    assert photo["original_name"] == "customer-anna-smith.png"
    assert photo["image"].endswith(f"/api/inspection-photos/{stored.pk}/image/") and "/media/" not in photo["image"]


@pytest.mark.django_db
def test_a_photo_is_served_only_to_users_who_may_view_photos(photo, technician, nobody, client_for):
    url = photo["image"].split("testserver", 1)[-1]
    allowed = client_for(technician).get(url, HTTP_ACCEPT="image/png")
    assert allowed.status_code == 200 and allowed["Content-Type"] == "image/png"
    assert b"".join(allowed.streaming_content).startswith(b"\x89PNG")
    assert allowed["X-Content-Type-Options"] == "nosniff" and "private" in allowed["Cache-Control"]
    assert client_for(None).get(url).status_code in (401, 403)
    assert client_for(nobody).get(url).status_code == 403
    technicians = Group.objects.get(name="technician")
    technicians.permissions.remove(Permission.objects.get(codename="view_inspectionphoto"))
    technician = type(technician).objects.get(pk=technician.pk)  # a fresh user: permissions are cached
    assert client_for(technician).get(url).status_code == 403


@pytest.mark.django_db
def test_nothing_under_media_url_serves_a_photo_even_in_debug(photo, settings, technician, tmp_path):
    import os

    stored = InspectionPhoto.objects.get(pk=photo["id"])
    client = Client()
    client.force_login(technician)
    assert client.get(f"/{settings.MEDIA_URL}{stored.image.name}").status_code == 404
    # The URL patterns are built once, when the module is imported: a DEBUG process is asked afresh.
    code = (f"from django.urls import resolve, Resolver404\ntry:\n    resolve('/media/{stored.image.name}')\n"
            "except Resolver404:\n    print('not served')")
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT,
                            env={**os.environ, "DEBUG": "1", "REFURB_VAR_DIR": str(tmp_path)}, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1:] == ["not served"], result.stdout + result.stderr


@pytest.mark.django_db
def test_the_proxy_can_send_a_photo_once_the_app_has_checked_the_user(photo, technician, client_for, settings):
    settings.REFURB_MEDIA_ACCEL_PREFIX = "/protected-media/"
    stored = InspectionPhoto.objects.get(pk=photo["id"])
    response = client_for(technician).get(f"/api/inspection-photos/{stored.pk}/image/")
    assert response.status_code == 200 and response["X-Accel-Redirect"] == f"/protected-media/{stored.image.name}"
    assert response.content == b""


@pytest.mark.django_db
def test_the_admin_links_photos_to_the_checked_view(photo, admin_user):
    stored = InspectionPhoto.objects.get(pk=photo["id"])
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/inventory/inspection/{stored.inspection_id}/change/").content.decode()
    assert f"/api/inspection-photos/{stored.pk}/image/" in page and stored.image.name not in page


def test_an_uploaded_file_name_is_kept_only_as_clean_metadata():
    from inventory.models import photo_original_name

    assert photo_original_name("C:\\Users\\anna\\IMG\u202e1234.png") == "IMG1234.png"
    assert photo_original_name("../../etc/passwd") == "passwd"
    assert len(photo_original_name("x" * 1000 + ".png")) == 255


@pytest.mark.django_db
def test_a_certificate_pdf_is_reached_by_its_public_url_not_under_media(make_units, admin_user, settings):
    from django.core.files.base import ContentFile

    from grading.models import Certificate, Grade
    from testbench.models import TestRun

    (unit,) = make_units(1, lot="PDF")
    run = TestRun.objects.create(unit=unit, plan="quick", state="finished")
    grade = Grade.objects.create(unit=unit, run=run, functional="F-A", policy_version="t", disposition="graded",
                                 is_current=True)
    certificate = Certificate(public_id="2" * 28, unit=unit, run=run, grade=grade, payload={}, canonical="{}",
                              signature="s", key_id="k")
    certificate.pdf.save("certificate-x.pdf", ContentFile(b"%PDF-1.7 test"), save=False)
    certificate.save()
    client = Client()
    download = client.get(f"/verify/{certificate.public_id}/certificate.pdf")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.7 test"
    client.force_login(admin_user)
    page = client.get(f"/admin/grading/certificate/{certificate.pk}/change/").content.decode()
    assert f"/verify/{certificate.public_id}/certificate.pdf" in page
    assert f"{settings.MEDIA_URL}certificates" not in page
