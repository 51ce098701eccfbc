"""The admin: every model is there, roles decide what is shown and done, writes go through the services."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from inventory.choices import UnitState
from inventory.models import Unit, UnitEvent

HEADER = "model,board_vendor,serial,source_rig,notes,cost,location,cosmetic_grade\n"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/", "/admin/inventory/unit/", "/admin/inventory/lot/",
                                  "/admin/inventory/gpumodel/", "/admin/inventory/unitevent/",
                                  "/admin/inventory/inspection/"])
def test_pages_open_for_every_role(path, technician, reseller, admin_user, make_units):
    make_units(2)
    for user in (technician, reseller, admin_user):
        assert logged_in(user).get(path).status_code == 200, (user, path)


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(make_units):
    response = Client().get("/admin/inventory/unit/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_search_by_serial_and_asset_tag_and_filter_by_state(make_units, technician):
    units = make_units(3, lot="ADM-S")
    client = logged_in(technician)
    page = client.get("/admin/inventory/unit/", {"q": units[1].asset_tag}).content.decode()
    assert units[1].asset_tag in page and units[0].asset_tag not in page
    page = client.get("/admin/inventory/unit/", {"q": "ADM-S-0002"}).content.decode()
    assert units[2].asset_tag in page and units[1].asset_tag not in page
    page = client.get("/admin/inventory/unit/", {"state__exact": "inspected"}).content.decode()
    assert units[0].asset_tag not in page


@pytest.mark.django_db
def test_unit_page_shows_events_inline_and_costs_only_to_resellers(make_units, technician, reseller):
    unit = make_units(2, lot="ADM-C", total_cost="96427.54")[0]  # 48213.77 each: no page shows it by chance
    tech_page = logged_in(technician).get(f"/admin/inventory/unit/{unit.pk}/change/").content.decode()
    seller_page = logged_in(reseller).get(f"/admin/inventory/unit/{unit.pk}/change/").content.decode()
    assert "Unit events" in tech_page and "intake" in tech_page
    assert "48213.77" in seller_page and "Cost basis" in seller_page
    assert "48213" not in tech_page and "Cost basis" not in tech_page
    lot_page = logged_in(technician).get(f"/admin/inventory/lot/{unit.lot_id}/change/").content.decode()
    assert "96427" not in lot_page


@pytest.mark.django_db
def test_state_changes_through_the_lifecycle_service(make_units, technician):
    unit = make_units(1, lot="ADM-T")[0]
    client = logged_in(technician)
    form = {"location": "C7", "notes": "", "source_rig": "", "board_part_number": "", "vbios_version": "",
            "cosmetic_grade": "", "transition_to": "inspected", "transition_reason": "checked",
            "inspections-TOTAL_FORMS": "0", "inspections-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "1", "events-INITIAL_FORMS": "1"}
    response = client.post(f"/admin/inventory/unit/{unit.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    unit.refresh_from_db()
    assert (unit.state, unit.location) == (UnitState.INSPECTED, "C7")
    event = unit.events.last()
    assert (event.from_state, event.to_state, event.reason, event.actor) == ("received", "inspected", "checked",
                                                                             technician)
    # Moves the lifecycle does not allow are not even offered.
    page = client.get(f"/admin/inventory/unit/{unit.pk}/change/").content.decode()
    assert 'value="queued"' in page and 'value="sold"' not in page


@pytest.mark.django_db
def test_events_cannot_be_changed_or_deleted_and_units_not_deleted(make_units, admin_user):
    unit = make_units(1)[0]
    event = UnitEvent.objects.get(unit=unit)
    client = logged_in(admin_user)
    client.post(f"/admin/inventory/unitevent/{event.pk}/change/", {"reason": "forged"})
    assert client.post(f"/admin/inventory/unitevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/inventory/unit/{unit.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UnitEvent.objects.get(pk=event.pk).reason == "intake" and Unit.objects.filter(pk=unit.pk).exists()


@pytest.mark.django_db
def test_intake_action_imports_a_csv_or_lists_every_bad_row(make_units, technician):
    lot = make_units(1, lot="ADM-I")[0].lot
    client = logged_in(technician)
    response = client.post("/admin/inventory/lot/", {"action": "intake_csv_action", "_selected_action": [lot.pk]})
    assert response.status_code == 302 and response["Location"].endswith(f"/admin/inventory/lot/{lot.pk}/intake/")

    bad = SimpleUploadedFile("bad.csv", (HEADER + "RTX 3080,MSI,I-1,,,,,\nRTX 0,MSI,I-2,,,,,\n").encode())
    page = client.post(f"/admin/inventory/lot/{lot.pk}/intake/", {"csv_file": bad}).content.decode()
    assert "1 row(s) rejected; nothing was imported." in page and "unknown model" in page
    assert lot.units.count() == 1

    good = SimpleUploadedFile("good.csv", (HEADER + "RTX 3080,MSI,I-1,,,,,\nRTX 3070,MSI,I-2,,,,,\n").encode())
    response = client.post(f"/admin/inventory/lot/{lot.pk}/intake/", {"csv_file": good})
    assert response.status_code == 302
    assert lot.units.count() == 3


@pytest.mark.django_db
def test_reseller_cannot_take_in_cards(make_units, reseller):
    lot = make_units(1)[0].lot
    assert logged_in(reseller).get(f"/admin/inventory/lot/{lot.pk}/intake/").status_code == 403


@pytest.mark.django_db
def test_admin_inspection_goes_through_the_service(make_units, technician):
    unit = make_units(1, lot="ADM-N")[0]
    response = logged_in(technician).post("/admin/inventory/inspection/add/", {
        "unit": unit.pk, "cosmetic_grade": "A", "fan_condition": "ok", "thermal_pads": "original",
        "thermal_paste": "replaced", "bracket_present": "on", "missing_parts": "", "notes": "",
        "photos-TOTAL_FORMS": "0", "photos-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:1500]
    unit.refresh_from_db()
    assert unit.state == UnitState.INSPECTED and unit.cosmetic_grade == "A"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/inventory/unit/?cost_basis__gte=150", "/admin/inventory/unit/?cost_given=1",
                                 "/admin/inventory/lot/?total_cost__gte=300"])
def test_technicians_cannot_filter_by_hidden_costs(make_units, technician, reseller, url):
    make_units(2, lot="ADM-F", total_cost="300.00")
    assert logged_in(technician).get(url).status_code == 400
    assert logged_in(reseller).get(url).status_code == 200


@pytest.mark.django_db
def test_a_refused_move_saves_nothing_of_the_form(make_units, technician):
    unit = make_units(1, lot="ADM-H")[0]
    form = {"location": "C9", "notes": "", "source_rig": "", "board_part_number": "", "vbios_version": "",
            "transition_to": "scrapped", "transition_reason": "",
            "inspections-TOTAL_FORMS": "0", "inspections-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "1", "events-INITIAL_FORMS": "1"}
    response = logged_in(technician).post(f"/admin/inventory/unit/{unit.pk}/change/", form)
    assert response.status_code == 200 and "A reason is required to move a unit to scrapped." in \
        response.content.decode()
    unit.refresh_from_db()
    assert (unit.location, unit.state) == ("", UnitState.RECEIVED)


# --- the API's filters in the admin (core.admin.FilterSetAdmin with the app's filtersets.py) -------------------

@pytest.fixture
def two_lots(make_units):
    from inventory.services import inspection_record, unit_transition

    first, second = make_units(3, lot="ADM-F1"), make_units(2, lot="ADM-F2", supplier="Other Co")
    inspection_record(unit=first[0], cosmetic_grade="A", fan_condition="ok")
    inspection_record(unit=second[1], cosmetic_grade="C", fan_condition="ok")
    unit_transition(unit=first[2], to_state=UnitState.ON_HOLD, reason="buyer question")
    return first + second


@pytest.mark.django_db
@pytest.mark.parametrize("params", [
    {"lot": "ADM-F1"}, {"state": ["received", "on_hold"]}, {"grade": "A"}, {"lot": "ADM-F2", "grade": ["A", "C"]},
    {"received_after": "2000-01-01T00:00:00Z"}, {"board_vendor": "msi"}, {"model": "geforce-rtx-3080"},
])
def test_the_admin_list_takes_the_api_filters_with_the_same_meaning(params, two_lots, technician, client_for):
    api = client_for(technician).get("/api/units/", params)
    assert api.status_code == 200
    expected = sorted(row["asset_tag"] for row in api.json()["results"])
    page = logged_in(technician).get("/admin/inventory/unit/", params)
    assert page.status_code == 200
    listed = sorted(unit.asset_tag for unit in page.context["cl"].result_list)
    assert listed == expected
    assert "API filters:" in page.content.decode()


@pytest.mark.django_db
def test_the_filters_select_what_they_say(two_lots, technician):
    page = logged_in(technician).get("/admin/inventory/unit/", {"lot": "ADM-F2", "grade": "C"})
    assert [u.asset_tag for u in page.context["cl"].result_list] == [two_lots[4].asset_tag]


@pytest.mark.django_db
def test_a_filter_value_the_api_refuses_lists_nothing_and_says_why(two_lots, technician, client_for):
    assert client_for(technician).get("/api/units/", {"received_after": "yesterday"}).status_code == 400
    page = logged_in(technician).get("/admin/inventory/unit/", {"received_after": "yesterday"})
    assert page.status_code == 200 and list(page.context["cl"].result_list) == []
    assert "Filter not applied, nothing listed: received_after" in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "params", "count"), [
    ("/admin/inventory/lot/", {"supplier": "other"}, 1),
    ("/admin/inventory/gpumodel/", {"vendor": "amd"}, None),
    ("/admin/testbench/testrun/", {"state": "queued"}, 0),
    ("/admin/grading/grade/", {"functional": "F-A"}, 0),
    ("/admin/grading/certificate/", {"status": "valid"}, 0),
])
def test_every_list_with_an_api_takes_its_filters(path, params, count, two_lots, admin_user):
    page = logged_in(admin_user).get(path, params)
    assert page.status_code == 200 and "API filters:" in page.content.decode()
    rows = list(page.context["cl"].result_list)
    if count is not None:
        assert len(rows) == count
    else:
        assert rows and all(row.vendor == "amd" for row in rows)
