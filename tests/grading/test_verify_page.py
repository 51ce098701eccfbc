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


def test_reasons_are_told_in_the_buyers_terms_and_the_past_tense():
    from grading.buyer_words import buyer_sentence

    lowered = {"code": "identity.mining_power_limit", "measured": 190.0, "threshold": 332.5,
               "sentence": "power limit 190 W of a 350 W default, left from mining; reset to default"}
    assert buyer_sentence(lowered) == ("Its power limit had been lowered to 190 W of its 350 W default for mining; "
                                       "the bench restored the default before testing.")
    kept = {**lowered, "sentence": "power limit 190 W of a 350 W default, left from mining; the bench may not reset it"}
    assert buyer_sentence(kept).endswith("it was tested as it came, with the lower limit.")
    assert buyer_sentence({"code": "thermal.gpu_hot", "measured": 86.4, "sentence": "GPU reached 86 °C"}) == (
        "Its GPU ran warm under a long full load (86 °C).")
    assert buyer_sentence({"code": "some.new_code", "sentence": "as the bench said it"}) == "as the bench said it"


def test_the_thermal_chart_is_drawn_as_the_payloads_schema_names_it():
    from grading.charts import thermal_chart

    columns = {"time": [0, 1, 2, 3], "gpu_temp_c": [40, 60, 70, 71], "hotspot_temp_c": [40, 60, 70, 71],
               "sm_clock_mhz": [1800, 1800, 1700, 1650], "power_w": [90, 300, 310, 305]}
    issued_as = thermal_chart(columns, layout=1)  # schema 4 and older: legend on the plot, solid lines
    assert "stroke-dasharray" not in issued_as and 'y="16"' in issued_as  # the first legend inside its panel
    # Byte for byte what the chart code drew before layout 2 existed (sha256 of its output for these columns, taken
    # from that code): a certificate issued then draws again the same, and its offline page check still holds.
    import hashlib

    with_memory = {**columns, "memory_temp_c": [38, 50, 66, 80]}
    assert hashlib.sha256(thermal_chart(with_memory, layout=1).encode()).hexdigest() == (
        "af554ab425181b633bf030cebc45268dfc873f0699a73257c2346cef9efe13a1")
    newer = thermal_chart(columns)
    assert 'stroke-dasharray="4 2"' in newer  # the hotspot line, here on top of the GPU's, stays visible
    import re

    panel_top = float(re.search(r'<rect x="[^"]+" y="([0-9.]+)"', newer).group(1))
    legend_y = float(re.search(r'<text x="[^"]+" y="([0-9.]+)" fill="#333">GPU</text>', newer).group(1))
    assert legend_y < panel_top  # the legend above its panel, off the lines
    assert newer.count("<line") >= 4  # a swatch per series (GPU, hotspot, clock, power) and the axis


@pytest.mark.django_db
def test_a_certificate_draws_its_chart_as_its_schema_says(certificate):
    from grading.pdf import SignedCertificate, certificate_html

    assert certificate.payload["schema"] == "refurb-certificate/6"
    assert "stroke-dasharray" in certificate_html(certificate, telemetry_columns=None)
    as_issued_before = SignedCertificate(payload={**certificate.payload, "schema": "refurb-certificate/4"},
                                         signature=certificate.signature, key_id=certificate.key_id)
    assert "stroke-dasharray" not in certificate_html(as_issued_before, telemetry_columns=None)
