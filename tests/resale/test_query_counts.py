"""Every page the resale benchmark times (benchmarks/resale_bench.py) costs the same number of queries with four times
the data: cards in every state, lots, listings, orders and returns (manage.py generate_dataset, twice). The benchmark
checks the other half on its large data set: the same count at two page sizes and on a deep page."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from inventory.models import Lot
from resale.models import Listing

PAGES = [
    "/admin/inventory/unit/",
    "/admin/inventory/unit/?state__exact=certified",
    "/admin/inventory/unit/?lot__id__exact={lot}",
    "/admin/resale/stock/",
    "/admin/resale/stock/?fits=13b-int4",
    "/admin/resale/stock/?grade=F-A&gpu_model__id__exact={model}",
    "/admin/resale/listing/",
    "/admin/resale/listing/?channel__exact=ebay&status__exact=active",
    "/api/units/",
    "/api/listings/",
    "/api/listings/?status=active&lot={lot_reference}",
    "/api/sets/",
    "/api/orders/",
    "/api/returns/",
    "/store/",
    "/store/?model={model_slug}",
    "/store/?fits=13b-int4&grade=F-B&sort=price",
    "/store/{listing}/",
    "/admin/dashboard/",
]


def generate(prefix: str, units: int, lots: int, listings: int) -> None:
    call_command("generate_dataset", "--units", str(units), "--lots", str(lots), "--listings", str(listings),
                 "--prefix", prefix, "--seed", "5", "--batch", "100", verbosity=0)


@pytest.mark.django_db
def test_each_benchmarked_page_costs_the_same_queries_with_four_times_the_data(catalog, reseller):
    generate("QA-", units=50, lots=2, listings=30)
    lot = Lot.objects.filter(reference__startswith="QA-").order_by("id").first()
    listing = Listing.objects.filter(status="active", channel="storefront").order_by("id").first()
    ids = {"lot": lot.pk, "lot_reference": lot.reference, "model": listing.gpu_model_id,
           "model_slug": listing.gpu_model.slug, "listing": listing.pk}
    client = Client()
    client.force_login(reseller)

    def counts() -> dict[str, int]:
        found = {}
        for template in PAGES:
            path = template.format(**ids)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            found[path] = len(captured)
        return found

    small = counts()
    generate("QB-", units=160, lots=6, listings=100)
    assert Listing.objects.count() >= 4 * Listing.objects.filter(items__unit__lot__reference__startswith="QA-"
                                                                 ).distinct().count()
    assert counts() == small
