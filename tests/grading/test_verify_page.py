"""The certificate's public page, as a buyer reads it: what fits for AI (from the signed payload, and only while its
signature holds), dates in words, what each grade means, and the seller's contact and warranty terms from settings."""

import pytest
from django.test import Client

from grading.models import Certificate


@pytest.fixture
def certificate(make_units, walk):
    (unit,) = make_units(1, lot="VP-1")
    walk(unit, "certified")
    return Certificate.objects.get(unit=unit)


def page(certificate) -> str:
    return Client().get(f"/verify/{certificate.public_id}/").content.decode()


@pytest.mark.django_db
def test_the_page_says_what_fits_for_ai_when_in_words_and_what_the_grades_mean(certificate, settings):
    shown = page(certificate)
    ai = certificate.payload["ai_readiness"]
    fits = next(iter(ai["largest_model_billions"].items()))
    assert "For AI" in shown and f"{fits[1]}B at {fits[0].upper()}" in shown and "tok/s" in shown
    issued = certificate.issued_at
    assert f"{issued.day} {issued:%b %Y, %H:%M} UTC" in shown and certificate.payload["issued_at"] not in shown
    assert "What the grades mean" in shown and "all checks pass at reference performance" in shown
    assert "cosmetic <b>D</b>" in shown and "sold on function only" in shown
    assert "Questions about this card" not in shown  # nothing said where the seller set nothing
    settings.REFURB_ISSUER_CONTACT = "support@gpu-reseller.example"
    settings.REFURB_WARRANTY_TERMS = "90 days return-to-base warranty on every certified card."
    shown = page(certificate)
    assert "mailto:support@gpu-reseller.example" in shown and "90 days return-to-base warranty" in shown


@pytest.mark.django_db
def test_no_ai_figures_are_shown_for_a_certificate_whose_signature_fails(certificate):
    Certificate.objects.filter(pk=certificate.pk).update(signature="A" * 86)
    shown = page(certificate)
    assert "Signature check failed" in shown and "For AI" not in shown
