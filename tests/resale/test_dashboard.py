"""The lot profit and yield dashboard: figures that add up, charts, CSV downloads, the same queries at any size, and
closed to technicians."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from grading.services import unit_grade
from resale.dashboard import lot_rows, rate_tables
from resale.pricing import DEFAULT_RULES
from resale.services import (
    listing_create,
    listing_publish,
    listing_sell,
    reference_prices_import,
    return_receive,
)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def lot(make_units, walk):
    """A lot of 6 cards bought for 1800: 4 certified (2 sold, 1 of them returned), 1 failed, 1 not tested."""
    reference_prices_import("model,price,currency\nRTX 3080,500,USD\n")
    units = make_units(6, lot="DASH-1", total_cost="1800.00")
    cards = [walk(unit, "certified") for unit in units[:4]]
    unit_grade(unit=walk(units[4], "failed"))  # graded FAIL: stays failed, for parts
    orders = [listing_sell(listing=listing_publish(listing=listing_create(units=[c], channel="storefront",
                                                                            price="450.00")),
                           fees="13.80", shipping="10.00") for c in cards[:2]]
    return_receive(order=orders[1], scanned_serial=cards[1].serial, reason="fan_noise", refund="450.00",
                   cost="15.00")
    return cards


@pytest.mark.django_db
def test_a_lots_figures_add_up(lot):
    (row,) = lot_rows(DEFAULT_RULES)
    assert (row.reference, row.bought, row.tested) == ("DASH-1", 6, 5)
    assert row.grades == {"F-A": 4, "F-B": 0, "F-C": 0, "FAIL": 1} and row.yield_share == 0.8
    assert row.reasons == [("vram.scattered_errors", 1)] and row.parts == 1
    assert row.stock_value == Decimal("999.98")  # two F-A/A cards in stock at 499.99
    assert (row.sold, row.revenue, row.fees, row.shipping) == (2, Decimal("900.00"), Decimal("27.60"),
                                                               Decimal("20.00"))
    assert (row.returns, row.returns_cost) == (1, Decimal("465.00"))
    assert row.margin == Decimal("900.00") - Decimal("27.60") - Decimal("20.00") - Decimal("465.00") - 1800
    assert row.bench_hours_per_card is not None and row.bench_hours_per_card >= 0
    rates = rate_tables()
    (model,) = rates["model"]
    assert (model.key, model.graded, model.failed, model.sold, model.returned) == ("GeForce RTX 3080", 5, 1, 2, 1)
    assert model.return_rate == 0.5 and rates["bench"][0].key == "walk-bench"


@pytest.mark.django_db
def test_the_page_draws_charts_and_downloads_each_table(lot, reseller, technician):
    client = logged_in(reseller)
    page = client.get("/admin/dashboard/").content.decode()
    assert page.count('role="img"') == 2 and "DASH-1" in page and "vram.scattered_errors ×1" in page
    rows = list(csv.reader(io.StringIO(client.get("/admin/dashboard/?download=lots").content.decode())))
    assert rows[0][0] == "lot" and rows[1][0] == "DASH-1" and rows[1][rows[0].index("margin")] == "-1412.60"
    assert client.get("/admin/dashboard/?download=rigs").status_code == 200
    assert client.get("/admin/dashboard/?download=costs").status_code == 400
    assert logged_in(technician).get("/admin/dashboard/").status_code == 403
    assert Client().get("/admin/dashboard/").status_code == 302  # to the login page


@pytest.mark.django_db
def test_the_dashboard_costs_the_same_queries_for_more_lots(lot, certified, reseller):
    client = logged_in(reseller)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/dashboard/").status_code == 200
        return len(captured)

    before = queries()
    certified(3, lot="DASH-2", total_cost="900.00")
    certified(2, lot="DASH-3", total_cost="500.00")
    assert queries() == before
