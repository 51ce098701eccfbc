"""Journeys after the bench, in a real browser: a reseller lists a certified card, sees it on the storefront, marks
it sold and takes it back by scanning its serial; a buyer without an account opens the certificate's QR link on a
phone and looks a card up by its serial on the home page."""

import pytest

from inventory.models import Unit
from resale.services import reference_prices_import

from .conftest import shot


def admin_action(page, changelist: str, row_text: str, action: str) -> None:
    page.goto(changelist)
    page.locator("#result_list tr", has_text=row_text).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


@pytest.mark.django_db(transaction=True)
def test_a_reseller_lists_sells_and_takes_back_a_card(open_page, reseller, make_units, walk):
    reference_prices_import("model,price,currency\nRTX 3080,500,USD\n")
    card = walk(make_units(1, lot="SHOP-1")[0], "certified")
    page = open_page(reseller, next_path="/admin/resale/stock/")
    admin_action(page, "/admin/resale/stock/", card.asset_tag, "list_on_storefront")
    page.wait_for_selector("text=draft listing(s)")
    admin_action(page, "/admin/resale/listing/", "GeForce RTX 3080", "publish")
    page.wait_for_selector("text=1 published")
    page.goto("/store/")
    offer = page.locator("a", has_text="GeForce RTX 3080").first
    assert offer.is_visible()
    shot(page, "store-with-the-card")
    admin_action(page, "/admin/resale/listing/", "GeForce RTX 3080", "mark_sold")
    page.wait_for_selector("text=1 sold")
    assert Unit.objects.get(pk=card.pk).state == "sold"
    page.goto("/bench/returns/")
    page.fill("#id_serial", " shop-1-0000")  # scanned: case and spacing as the scanner gives them
    page.select_option("#id_reason", "fan_noise")
    page.fill("#id_refund", "450")
    page.click("button:has-text('Take it back')")
    page.wait_for_selector("text=taken back from order")
    assert Unit.objects.get(pk=card.pk).state == "returned"
    shot(page, "bench-return-taken")


@pytest.mark.django_db(transaction=True)
def test_a_buyer_opens_the_qr_link_on_a_phone_and_looks_a_card_up_by_serial(open_page, make_units, walk):
    card = walk(make_units(1, lot="BUY-1")[0], "certified")
    public_id = card.certificates.get().public_id
    page = open_page(None, width=390, height=844)
    page.goto(f"/verify/{public_id}/")  # what the certificate's QR code opens
    assert "Valid." in page.inner_text(".banner")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "buyer-verify-phone")
    page.goto("/")
    page.fill("#q", card.serial.lower())
    page.click("button:has-text('Look up')")
    # One card with this serial: its certificate at once (the form's #lookup anchor rides along the redirect).
    page.wait_for_url(lambda url: f"/verify/{public_id}/" in url)
    assert "Valid." in page.inner_text(".banner")
