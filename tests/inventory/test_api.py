"""The REST API: roles × endpoints, transitions, intake, filters, costs and constant query counts."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from inventory.choices import UnitState
from inventory.models import Inspection, Lot, Unit
from inventory.services import unit_transition

HEADER = "model,board_vendor,serial,source_rig,notes,cost,location,cosmetic_grade\n"


@pytest.fixture
def unit(make_units):
    return make_units(1, lot="LOT-API")[0]


@pytest.fixture
def users(technician, reseller, admin_user, nobody):
    return {"anonymous": None, "nobody": nobody, "technician": technician, "reseller": reseller,
            "admin": admin_user}


def endpoints(unit):
    lot = unit.lot
    return {
        "catalog list": ("get", "/api/catalog/", None),
        "lot list": ("get", "/api/lots/", None),
        "lot detail": ("get", f"/api/lots/{lot.pk}/", None),
        "lot create": ("post", "/api/lots/", {"reference": "NEW-LOT"}),
        "lot edit cost": ("patch", f"/api/lots/{lot.pk}/", {"total_cost": "10.00"}),
        "lot intake": ("post", f"/api/lots/{lot.pk}/intake/", {"units": [{"model": "RTX 3070", "board_vendor": "MSI",
                                                                         "serial": "PERM-1"}]}),
        "unit list": ("get", "/api/units/", None),
        "unit detail": ("get", f"/api/units/{unit.pk}/", None),
        "unit create": ("post", "/api/units/", {"lot": lot.reference, "model": "RTX 3070", "board_vendor": "MSI",
                                                "serial": "PERM-2"}),
        "unit edit": ("patch", f"/api/units/{unit.pk}/", {"location": "C4"}),
        "unit inspect": ("post", f"/api/units/{unit.pk}/inspection/", {"cosmetic_grade": "B",
                                                                      "fan_condition": "ok"}),
        "unit to inspected": ("post", f"/api/units/{unit.pk}/transition/", {"to": "inspected"}),
        "unit to on_hold": ("post", f"/api/units/{unit.pk}/transition/", {"to": "on_hold", "reason": "check"}),
        "schema": ("get", "/api/schema/", None),
    }


ALLOWED = {  # endpoint -> roles that may use it (anonymous and nobody may use none)
    "catalog list": {"technician", "reseller", "admin"},
    "lot list": {"technician", "reseller", "admin"},
    "lot detail": {"technician", "reseller", "admin"},
    "lot create": {"technician", "reseller", "admin"},
    "lot edit cost": {"reseller", "admin"},
    "lot intake": {"technician", "admin"},
    "unit list": {"technician", "reseller", "admin"},
    "unit detail": {"technician", "reseller", "admin"},
    "unit create": {"technician", "admin"},
    "unit edit": {"technician", "reseller", "admin"},
    "unit inspect": {"technician", "admin"},
    "unit to inspected": {"technician", "admin"},
    "unit to on_hold": {"technician", "reseller", "admin"},
    "schema": {"technician", "reseller", "admin"},
}


@pytest.mark.parametrize("role", ["anonymous", "nobody", "technician", "reseller", "admin"])
@pytest.mark.parametrize("endpoint", list(ALLOWED))
@pytest.mark.django_db
def test_role_permission_matrix(role, endpoint, users, unit, client_for):
    method, url, body = endpoints(unit)[endpoint]
    response = getattr(client_for(users[role]), method)(url, body, format="json")
    if role in ALLOWED[endpoint]:
        assert response.status_code in (200, 201), (response.status_code, response.content[:300])
    elif role == "anonymous":
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
    else:
        assert response.status_code == 403


@pytest.mark.django_db
def test_token_authentication(technician, unit):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=technician).key}")
    assert client.get("/api/units/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/units/").status_code == 401


@pytest.mark.django_db
def test_illegal_transition_answers_409_with_allowed_targets(unit, admin_user, client_for):
    response = client_for(admin_user).post(f"/api/units/{unit.pk}/transition/", {"to": "sold"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "cannot move a unit from 'received' to 'sold'; allowed: inspected, queued, on_hold, scrapped",
        "code": "illegal_transition", "from": "received", "to": "sold",
        "allowed": ["inspected", "queued", "on_hold", "scrapped"]}


@pytest.mark.django_db
def test_transition_validation_errors_are_400_with_fields(unit, admin_user, client_for):
    client = client_for(admin_user)
    assert client.post(f"/api/units/{unit.pk}/transition/", {"to": "lost"}, format="json").json() == {
        "to": ['"lost" is not a valid choice.']}
    response = client.post(f"/api/units/{unit.pk}/transition/", {"to": "scrapped"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = client.post(f"/api/units/{unit.pk}/transition/", {"to": "on_hold", "reason": "x", "payload": [1]},
                           format="json")
    assert response.status_code == 400 and "payload" in response.json()
    assert client.post("/api/units/999999/transition/", {"to": "inspected"}, format="json").status_code == 404


@pytest.mark.django_db
def test_transition_then_detail_shows_events_and_allowed_moves(unit, technician, client_for):
    client = client_for(technician)
    response = client.post(f"/api/units/{unit.pk}/transition/", {"to": "inspected", "reason": "visual ok",
                                                                 "payload": {"bench": "b1"}}, format="json")
    body = response.json()
    assert body["state"] == "inspected"
    assert [(e["from_state"], e["to_state"]) for e in body["events"]] == [("", "received"),
                                                                          ("received", "inspected")]
    assert body["events"][1]["actor"] == "tina" and body["events"][1]["payload"] == {"bench": "b1"}
    assert body["allowed_transitions"] == ["queued", "repair", "on_hold", "scrapped"]


@pytest.mark.django_db
def test_role_may_not_move_to_targets_outside_its_work(make_units, reseller, technician, client_for, walk):
    unit = walk(make_units(1)[0], "tested")
    response = client_for(technician).post(f"/api/units/{unit.pk}/transition/", {"to": "graded"}, format="json")
    assert response.status_code == 403 and "graded" in response.json()["detail"]
    assert Unit.objects.get(pk=unit.pk).state == UnitState.TESTED


@pytest.mark.django_db
def test_costs_are_hidden_from_technicians(make_units, technician, reseller, client_for):
    unit = make_units(2, lot="LOT-COST", total_cost="500.00")[0]
    tech, seller = client_for(technician), client_for(reseller)
    for path in ("/api/units/", f"/api/units/{unit.pk}/"):
        tech_body, seller_body = tech.get(path).json(), seller.get(path).json()
        tech_item = tech_body["results"][0] if "results" in tech_body else tech_body
        seller_item = seller_body["results"][0] if "results" in seller_body else seller_body
        assert "cost_basis" not in tech_item and "cost_given" not in tech_item
        assert seller_item["cost_basis"] == "250.00"
    assert "total_cost" not in tech.get(f"/api/lots/{unit.lot_id}/").json()
    assert seller.get(f"/api/lots/{unit.lot_id}/").json()["total_cost"] == "500.00"
    # Writing a cost is refused to a technician too.
    response = tech.post("/api/lots/", {"reference": "T-COST", "total_cost": "5"}, format="json")
    assert response.status_code == 403 and not Lot.objects.filter(reference="T-COST").exists()


@pytest.mark.django_db
def test_lot_cost_change_reshares_cost_basis(make_units, reseller, client_for):
    units = make_units(4, lot="LOT-RE", total_cost="100.00")
    response = client_for(reseller).patch(f"/api/lots/{units[0].lot_id}/", {"total_cost": "200.00"}, format="json")
    assert response.status_code == 200
    assert sorted(Unit.objects.values_list("cost_basis", flat=True)) == [50] * 4


@pytest.mark.django_db
def test_lot_bad_input_is_400_with_field_errors(reseller, client_for):
    client = client_for(reseller)
    response = client.post("/api/lots/", {"reference": "", "currency": "dollars", "total_cost": "-1"},
                           format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"reference", "currency", "total_cost"}
    client.post("/api/lots/", {"reference": "DUP"}, format="json")
    assert client.post("/api/lots/", {"reference": "DUP"}, format="json").status_code == 400


@pytest.mark.django_db
def test_intake_endpoint_takes_a_csv_file_all_or_nothing(make_units, technician, client_for):
    lot = make_units(1, lot="LOT-UP")[0].lot
    client = client_for(technician)
    bad = io.BytesIO((HEADER + "RTX 3080,MSI,U-1,,,,,\nRTX 3080,MSI,U-1,,,,,\nGTX 9,MSI,U-3,,,,,\n").encode())
    bad.name = "lot.csv"
    response = client.post(f"/api/lots/{lot.pk}/intake/", {"file": bad}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 3, "field": "serial", "message": "duplicate serial: MSI U-1 is also on line 2"},
        {"line": 4, "field": "model", "message": "unknown model 'GTX 9': not a catalog name, alias or PCI device id"},
    ]
    assert lot.units.count() == 1
    good = io.BytesIO((HEADER + "RTX 3080,MSI,U-1,,,,,\nRTX 3090,EVGA,U-2,,,,,\n").encode())
    good.name = "lot.csv"
    response = client.post(f"/api/lots/{lot.pk}/intake/", {"file": good}, format="multipart")
    assert response.status_code == 201, response.content
    assert [u["serial"] for u in response.json()["created"]] == ["U-1", "U-2"]
    assert response.json()["separator"] == "comma"
    assert lot.units.count() == 3
    european = io.BytesIO(b"model;board_vendor;serial\nRTX 3070;MSI;U-3\n")
    european.name = "lot.csv"
    response = client.post(f"/api/lots/{lot.pk}/intake/", {"file": european}, format="multipart")
    assert response.status_code == 201 and response.json()["separator"] == "semicolon"


@pytest.mark.django_db
def test_intake_endpoint_json_rows_and_dry_run(make_units, admin_user, client_for):
    lot = make_units(1, lot="LOT-JS")[0].lot
    client = client_for(admin_user)
    rows = [{"model": "RTX 2080 Ti", "board_vendor": "EVGA", "serial": "J-1", "cost": "120"}]
    response = client.post(f"/api/lots/{lot.pk}/intake/", {"units": rows, "dry_run": True}, format="json")
    assert response.status_code == 200 and response.json()["created"] == [] and lot.units.count() == 1
    response = client.post(f"/api/lots/{lot.pk}/intake/", {"units": rows}, format="json")
    assert response.status_code == 201 and response.json()["created"][0]["cost_basis"] == "120.00"
    assert response.json()["separator"] is None  # a JSON list has none
    assert client.post(f"/api/lots/{lot.pk}/intake/", {}, format="json").status_code == 400


@pytest.mark.django_db
def test_single_unit_create_errors_are_keyed_by_field(make_units, technician, client_for):
    lot = make_units(1, lot="LOT-ONE")[0].lot
    client = client_for(technician)
    response = client.post("/api/units/", {"lot": lot.reference, "model": "RTX 3080", "board_vendor": "MSI",
                                           "serial": "LOT-ONE-0000"}, format="json")
    assert response.status_code == 400
    assert "already in inventory" in response.json()["serial"][0]
    response = client.post("/api/units/", {"lot": "NO-SUCH-LOT", "model": "x", "board_vendor": "y", "serial": "z"},
                           format="json")
    assert response.status_code == 400 and "lot" in response.json()
    response = client.post("/api/units/", {"lot": lot.reference, "model": "RTX 3080", "board_vendor": "MSI",
                                           "serial": "missing"}, format="json")
    assert response.status_code == 201 and response.json()["serial_missing"] is True


def _png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "card.png"
    return buffer


@pytest.mark.django_db
def test_inspection_with_photo_moves_card_to_inspected(unit, technician, client_for, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = client_for(technician).post(
        f"/api/units/{unit.pk}/inspection/",
        {"cosmetic_grade": "C", "fan_condition": "noisy", "thermal_pads": "replaced", "pcie_connector_damage": True,
         "missing_parts": "2 backplate screws", "photos": [_png()]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert len(response.json()["photos"]) == 1
    unit.refresh_from_db()
    assert unit.state == UnitState.INSPECTED and unit.cosmetic_grade == "C"
    event = unit.events.last()
    assert event.payload["inspection"] == Inspection.objects.get().pk and event.payload["fan_condition"] == "noisy"
    bad = client_for(technician).post(f"/api/units/{unit.pk}/inspection/", {"cosmetic_grade": "Z"}, format="json")
    assert bad.status_code == 400 and {"cosmetic_grade", "fan_condition"} <= set(bad.json())


@pytest.mark.django_db
def test_filters_and_search(make_units, admin_user, client_for, catalog):
    make_units(3, lot="LOT-F1", model="RTX 3080")
    others = make_units(2, lot="LOT-F2", model="RX 580")
    unit_transition(unit=others[0], to_state="inspected")
    Unit.objects.filter(pk=others[1].pk).update(cosmetic_grade="B")
    client = client_for(admin_user)

    def serials(query):
        response = client.get("/api/units/" + query)
        assert response.status_code == 200, response.content
        return sorted(u["serial"] for u in response.json()["results"])

    assert serials("?state=inspected") == [others[0].serial]
    assert serials("?state=inspected&state=received") == sorted(u.serial for u in Unit.objects.all())
    assert serials("?model=radeon-rx-580") == sorted(u.serial for u in others)
    assert serials(f"?model={others[0].gpu_model_id}") == sorted(u.serial for u in others)
    assert serials("?lot=LOT-F1") == ["LOT-F1-0000", "LOT-F1-0001", "LOT-F1-0002"]
    assert serials("?grade=B") == [others[1].serial]
    assert serials("?search=LOT-F2-0001") == ["LOT-F2-0001"]
    assert serials(f"?search={others[0].asset_tag}") == [others[0].serial]
    assert client.get("/api/units/?state=nonsense").status_code == 400
    assert client.get("/api/catalog/?vendor=amd").json()["count"] == 9


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_page_size(make_units, reseller, client_for):
    make_units(60, lot="LOT-Q1")
    make_units(60, lot="LOT-Q2", model="RTX 3070")
    client = client_for(reseller)

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    queries("/api/units/")  # warm-up: the first request also loads the user's permissions
    for base in ("/api/units/", "/api/lots/", "/api/catalog/"):
        small, large = queries(base + "?page_size=2"), queries(base + "?page_size=100")
        assert small == large, (base, small, large)
    assert queries("/api/units/?page_size=100") <= 4


@pytest.mark.django_db
def test_unit_detail_query_count_does_not_grow_with_events(make_units, admin_user, client_for):
    short, long_ = make_units(2, lot="LOT-EV")
    for state in ("inspected", "queued", "inspected", "queued", "inspected", "queued"):
        unit_transition(unit=long_, to_state=state)
    client = client_for(admin_user)
    client.get(f"/api/units/{short.pk}/")  # warm-up: the first request also loads the user's permissions
    counts = []
    for unit in (short, long_):
        with CaptureQueriesContext(connection) as captured:
            client.get(f"/api/units/{unit.pk}/")
        counts.append(len(captured))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_unknown_ids_are_404(admin_user, client_for):
    client = client_for(admin_user)
    for url in ("/api/units/0/", "/api/lots/0/", "/api/catalog/0/", "/api/units/abc/"):
        assert client.get(url).status_code == 404, url


@pytest.mark.django_db
def test_date_filters_accept_any_iso_offset(make_units, admin_user, client_for):
    make_units(2)
    client = client_for(admin_user)
    # -17:00 is valid ISO 8601 and valid in Python, but PostgreSQL rejects offsets beyond ±15:59.
    response = client.get("/api/units/", {"received_after": "0904-01-10T21:12:17.367-17:00"})
    assert response.status_code == 200 and response.json()["count"] == 2
    response = client.get("/api/units/", {"received_before": "2000-01-01T00:00:00+23:59"})
    assert response.status_code == 200 and response.json()["count"] == 0
    assert client.get("/api/units/", {"received_before": "yesterday"}).status_code == 400


@pytest.mark.django_db
def test_unit_edit_refuses_fields_it_does_not_edit(unit, technician, client_for):
    response = client_for(technician).patch(f"/api/units/{unit.pk}/", {"cosmetic_grade": "A", "state": "sold",
                                                                       "location": "Z9"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"cosmetic_grade": ["cannot be changed here"], "state": ["cannot be changed here"]}
    unit.refresh_from_db()
    assert (unit.location, unit.state, unit.cosmetic_grade) == ("", "received", "")


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["model=%C2%B2", "lot=%C2%B2", "model=99999999999999999999999", "lot=-1"])
def test_odd_ids_in_filters_match_nothing(make_units, admin_user, client_for, query):
    make_units(1)
    response = client_for(admin_user).get(f"/api/units/?{query}")
    assert response.status_code == 200 and response.json()["count"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["received_after=0001-01-01T00:00:00%2B01:00",
                                   "received_before=9999-12-31T23:59:59-01:00"])
def test_dates_that_overflow_in_utc_are_400(admin_user, client_for, query):
    response = client_for(admin_user).get(f"/api/units/?{query}")
    assert response.status_code == 400 and list(response.json()) == [query.split("=")[0]]


@pytest.mark.django_db
def test_deeply_nested_json_is_400_not_500(unit, admin_user, client_for):
    body = "[" * 100_000 + "]" * 100_000
    response = client_for(admin_user).post(f"/api/units/{unit.pk}/transition/", body,
                                           content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


@pytest.mark.django_db
def test_put_on_a_lot_replaces_its_fields(make_units, reseller, client_for):
    lot = make_units(2, lot="LOT-PUT", total_cost="100.00")[0].lot
    body = {"reference": "LOT-PUT-2", "supplier": "Rig farm", "purchased_on": "2026-11-01", "total_cost": "300.00",
            "currency": "EUR", "notes": "re-counted"}
    response = client_for(reseller).put(f"/api/lots/{lot.pk}/", body, format="json")
    assert response.status_code == 200, response.content
    lot.refresh_from_db()
    assert (lot.reference, lot.currency, str(lot.total_cost)) == ("LOT-PUT-2", "EUR", "300.00")
    assert sorted(str(c) for c in lot.units.values_list("cost_basis", flat=True)) == ["150.00", "150.00"]


@pytest.mark.django_db
@pytest.mark.parametrize("held_state", ["on_hold", "queued"])
def test_inspection_does_not_move_a_card_that_is_held_or_queued(make_units, technician, client_for, held_state):
    unit = make_units(1)[0]
    unit_transition(unit=unit, to_state="inspected")
    unit_transition(unit=unit, to_state=held_state, reason="police hold")
    response = client_for(technician).post(f"/api/units/{unit.pk}/inspection/",
                                           {"cosmetic_grade": "B", "fan_condition": "ok"}, format="json")
    assert response.status_code == 201
    unit.refresh_from_db()
    assert unit.state == held_state and unit.cosmetic_grade == "B"


@pytest.mark.django_db
def test_intake_warns_when_given_costs_exceed_the_lot_cost(make_units, admin_user, client_for):
    lot = make_units(1, lot="LOT-W", total_cost="100.00")[0].lot
    rows = [{"model": "RTX 3080", "board_vendor": "MSI", "serial": "W-1", "cost": "150"}]
    body = client_for(admin_user).post(f"/api/lots/{lot.pk}/intake/", {"units": rows}, format="json").json()
    assert len(body["warnings"]) == 1 and "150.00 USD, more than the lot's total cost of 100.00 USD" in \
        body["warnings"][0]


@pytest.mark.django_db
def test_failed_inspection_leaves_no_photo_files_behind(unit, technician, client_for, settings, tmp_path,
                                                        monkeypatch):
    from inventory.services import inspections

    settings.MEDIA_ROOT = tmp_path

    def refuse(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(inspections, "unit_transition", refuse)
    with pytest.raises(RuntimeError):
        inspections.inspection_record(unit=unit, cosmetic_grade="A", fan_condition="ok",
                                      photos=[SimpleUploadedFile("card.png", _png().read(), "image/png")])
    assert not Inspection.objects.exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.django_db
def test_an_edit_records_what_changed_from_what_to_what_and_who(unit, technician, client_for):
    from inventory.choices import EventKind

    client = client_for(technician)
    events = unit.events.count()
    response = client.patch(f"/api/units/{unit.pk}/", {"location": "shelf B3", "notes": ""}, format="json")
    assert response.status_code == 200
    event = unit.events.order_by("-id").first()
    assert unit.events.count() == events + 1
    assert (event.kind, event.actor, event.from_state, event.to_state) == (EventKind.EDITED, technician,
                                                                           "received", "received")
    assert event.payload == {"changes": {"location": ["", "shelf B3"]}} and event.reason == "edited location"
    client.patch(f"/api/units/{unit.pk}/", {"location": "shelf B3"}, format="json")  # the same value: no change
    assert unit.events.count() == events + 1
