"""The bench screens through Django's client: a scan opens the card whatever code the sticker holds, a code shared by
two boards lists both, an unknown one offers intake; a batch acts on all its cards or on none; intake names the bad
field; the screens are for signed-in staff who may see cards."""

import pytest
from django.test import Client

from inventory.choices import UnitState
from inventory.models import Unit, UnitEvent
from inventory.services import IntakeRow, intake_import
from inventory.services.units import unit_transition

from . import signed_in


@pytest.fixture
def cards(make_units):
    units = make_units(3, lot="WB-1")
    Unit.objects.filter(pk=units[0].pk).update(nvml_uuid="GPU-1a2b3c4d-0000-1111-2222-333344445555")
    # Two makers' boards with one serial: a scan of it cannot choose.
    intake_import(lot_reference="WB-2", rows=[IntakeRow(line=2, values={"model": "RTX 3080", "board_vendor": "MSI",
                                                                         "serial": "TWIN 0001"}),
                                              IntakeRow(line=3, values={"model": "RTX 3080", "board_vendor": "ASUS",
                                                                         "serial": "TWIN 0001"})])
    return [Unit.objects.get(pk=u.pk) for u in units]


@pytest.mark.django_db
def test_a_scan_opens_the_card_by_asset_tag_serial_uuid_or_certificate(cards, technician, walk):
    client = signed_in(technician)
    first = cards[0]
    for code in (first.asset_tag, first.asset_tag.lower(), f" {first.serial.lower()} ",
                 "gpu-1A2B3C4D-0000-1111-2222-333344445555"):
        response = client.get("/bench/", {"code": code})
        assert response.status_code == 302 and response["Location"] == f"/bench/unit/{first.asset_tag}/", code
    certified = walk(cards[1], "certified")
    public_id = certified.certificates.get().public_id
    for code in (public_id, f"https://refurb.example/verify/{public_id}/"):
        assert client.get("/bench/", {"code": code})["Location"] == f"/bench/unit/{certified.asset_tag}/"
    page = client.get(f"/bench/unit/{certified.asset_tag}/").content.decode()
    assert "F-A" in page and public_id in page and "certified" in page and "vram" in page  # grade, certificate, checks


@pytest.mark.django_db
def test_a_shared_serial_lists_both_cards_and_an_unknown_code_offers_intake(cards, technician):
    client = signed_in(technician)
    both = client.get("/bench/", {"code": "twin0001"})
    assert both.status_code == 200 and both.content.decode().count("/bench/unit/") == 2
    unknown = client.get("/bench/", {"code": "NEW-SERIAL 9"})
    assert unknown.status_code == 404 and "/bench/intake/?serial=NEW-SERIAL%209" in unknown.content.decode()
    assert client.get("/bench/", {"code": "x" * 500}).status_code == 400  # a stuck key: refused, with the field


@pytest.mark.django_db
def test_a_batch_holds_all_its_cards_or_none_and_moves_them(cards, technician):
    client = signed_in(technician)
    for card in cards:
        client.post("/bench/batch/", {"action": "add", "code": card.asset_tag})
    client.post("/bench/batch/", {"action": "add", "code": cards[0].asset_tag})  # twice: kept once
    page = client.get("/bench/batch/").content.decode()
    assert "Batch: 3 cards" in page and "already" in page
    assert "scan the asset tag" in client.post("/bench/batch/", {"action": "add", "code": "TWIN0001"},
                                               follow=True).content.decode()
    refused = client.post("/bench/batch/", {"action": "hold", "reason": " "})
    assert refused.status_code == 400 and "This field is required" in refused.content.decode()
    moved = client.post("/bench/batch/", {"action": "locate", "location": "shelf B2"}, follow=True).content.decode()
    assert "3 cards moved to shelf B2" in moved and set(Unit.objects.filter(pk__in=[c.pk for c in cards])
                                                       .values_list("location", flat=True)) == {"shelf B2"}
    for card in cards:
        client.post("/bench/batch/", {"action": "add", "code": card.asset_tag})
    unit_transition(unit=cards[2], to_state="scrapped", reason="cracked PCB")  # cannot be held: nothing moves
    held = client.post("/bench/batch/", {"action": "hold", "reason": "customs check"}, follow=True).content.decode()
    assert f'<li class="error">{cards[2].asset_tag}: ' in held and "Batch: 3 cards" in held
    assert not Unit.objects.filter(state=UnitState.ON_HOLD).exists()
    assert not UnitEvent.objects.filter(to_state=UnitState.ON_HOLD).exists()
    client.post("/bench/batch/", {"action": "remove", "unit": cards[2].pk})
    done = client.post("/bench/batch/", {"action": "hold", "reason": "customs check"}, follow=True).content.decode()
    assert "2 cards on hold" in done and "Batch: 0 cards" in done
    assert Unit.objects.filter(state=UnitState.ON_HOLD).count() == 2


@pytest.mark.django_db
def test_intake_takes_one_card_in_and_names_the_bad_field(cards, technician):
    client = signed_in(technician)
    form = client.get("/bench/intake/", {"serial": "NEW 77"}).content.decode()
    assert 'value="NEW 77"' in form
    duplicate = client.post("/bench/intake/", {"serial": cards[0].serial, "model": "geforce-rtx-3080",
                                               "board_vendor": "MSI", "lot": "WB-3"})
    assert duplicate.status_code == 400 and "already" in duplicate.content.decode()
    assert client.post("/bench/intake/", {"serial": "NEW 77", "model": "no-such-card", "board_vendor": "MSI",
                                          "lot": "WB-3"}).status_code == 400
    taken = client.post("/bench/intake/", {"serial": "NEW 77", "model": "geforce-rtx-3080", "board_vendor": "MSI",
                                           "lot": "WB-3"})
    unit = Unit.objects.get(serial="NEW77")
    assert taken["Location"] == f"/bench/unit/{unit.asset_tag}/" and unit.lot.reference == "WB-3"
    assert unit.events.get().payload["source"] == "bench"


@pytest.mark.django_db
def test_the_screens_are_for_signed_in_staff_who_see_cards(cards, nobody, reseller):
    assert Client().get("/bench/")["Location"].startswith("/admin/login/?next=/bench/")
    assert signed_in(nobody).get("/bench/").status_code == 403
    assert signed_in(reseller).get("/bench/intake/").status_code == 403  # resellers do not take cards in


@pytest.mark.django_db
def test_a_batch_queues_runs_where_its_cards_are_seated_or_none(cards, technician):
    from testbench.models import Bench, BenchSlot, TestRun
    from testbench.services import slot_seat

    bench = Bench.objects.create(name="bench-batch", simulated=True)
    for index, card in enumerate(cards[:2]):
        slot_seat(slot=BenchSlot.objects.create(bench=bench, index=index), unit=card)
    client = signed_in(technician)
    for card in cards:
        client.post("/bench/batch/", {"action": "add", "code": card.asset_tag})
    refused = client.post("/bench/batch/", {"action": "queue", "plan": "quick"}, follow=True).content.decode()
    assert f"{cards[2].asset_tag} is not seated in a bench slot" in refused and not TestRun.objects.exists()
    client.post("/bench/batch/", {"action": "remove", "unit": cards[2].pk})
    done = client.post("/bench/batch/", {"action": "queue", "plan": "quick"}, follow=True).content.decode()
    assert "quick runs queued for 2 cards" in done and TestRun.objects.filter(plan="quick").count() == 2
