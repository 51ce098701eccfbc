"""Returns at the bench: the scanned serial finds the order that sold it; a different card than the one that left in
the order typed is refused with the reason; a serial never sold is named; only resellers and admins take cards back."""

import pytest

from resale.services import listing_create, listing_publish, listing_sell

from . import signed_in


def sold(card):
    return listing_sell(listing=listing_publish(listing=listing_create(units=[card], channel="storefront",
                                                                        price="300.00")))


@pytest.mark.django_db
def test_a_return_is_found_by_serial_and_a_different_card_is_refused(make_units, walk, reseller, technician):
    first, second = (walk(unit, "certified") for unit in make_units(2, lot="RET-1"))
    order_one, _ = sold(first), sold(second)
    client = signed_in(reseller)
    wrong = client.post("/bench/returns/", {"serial": second.serial, "order": order_one.pk, "reason": "doa"})
    assert wrong.status_code == 400 and "a different card is not taken back" in wrong.content.decode()
    never = client.post("/bench/returns/", {"serial": "NEVER-SOLD-1", "reason": "doa"})
    assert "no card with serial NEVER-SOLD-1 was sold" in never.content.decode()
    taken = client.post("/bench/returns/", {"serial": first.serial.lower(), "reason": "fan_noise", "refund": "300",
                                            "cost": "12.50"})
    assert taken["Location"] == f"/bench/unit/{first.asset_tag}/"
    first.refresh_from_db()
    assert first.state == "returned" and first.order_lines.get().card_return.cost == 12.50
    page = client.get(f"/bench/unit/{first.asset_tag}/").content.decode()
    assert "Orders and returns" in page and "fan noise" in page and str(order_one.pk) in page
    again = client.post("/bench/returns/", {"serial": first.serial, "reason": "fan_noise"})
    assert again.status_code == 400 and "back already" in again.content.decode()
    assert signed_in(technician).get("/bench/returns/").status_code == 403
