"""The benchmark's data set: cards in every state with runs, grades, signed certificates that verify, listings,
orders and returns, in the shape asked for; and the pages work on it."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from grading.keys import keyring
from grading.models import Certificate
from grading.services import verify_url
from grading.verification import verification_report
from inventory.models import Lot, Unit
from resale.models import CardReturn, Listing, Order


@pytest.mark.django_db
def test_the_data_set_has_the_asked_shape_and_its_certificates_verify(catalog, reseller):
    call_command("generate_dataset", "--units", "300", "--lots", "4", "--listings", "160", "--batch", "70",
                 "--seed", "3", verbosity=0)
    assert Unit.objects.count() == 300 and Lot.objects.filter(reference__startswith="GEN-").count() == 4
    states = set(Unit.objects.values_list("state", flat=True))
    assert {"received", "failed", "certified", "listed", "sold", "returned"} <= states
    assert 120 <= Listing.objects.count() <= 200  # 45 % of the cards on sale, the rest withdrawn offers
    assert Order.objects.count() == Unit.objects.filter(state__in=("sold", "returned")).count()
    assert CardReturn.objects.count() == Unit.objects.filter(state="returned").count()
    certificate = Certificate.objects.order_by("?").first()
    assert verification_report(certificate, keyring(needs=certificate.key_id), public_url=verify_url)["valid"]
    client = Client()
    client.force_login(reseller)
    for path in ("/store/", "/store/?fits=13b-int4&sort=price", "/admin/dashboard/", "/admin/resale/stock/",
                 "/api/listings/", f"/verify/{certificate.public_id}/"):
        assert client.get(path).status_code == 200, path
    with pytest.raises(CommandError, match="exist already"):
        call_command("generate_dataset", "--units", "10", "--lots", "1", verbosity=0)
