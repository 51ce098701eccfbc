"""The public home page: what the seller does, and a certificate lookup by printed id or by a card's board serial
(valid or newest certificate only, nothing about cards never certified), rate limited like the verify page."""

import pytest

from grading.models import CertificateStatus
from grading.services import certificate_issue, certificate_revoke, unit_grade
from inventory.services import IntakeRow, intake_import

from .conftest import make_tested_unit
from .test_certificates import certified, retest


def lookup(client, text, **extra):
    return client.get("/", {"q": text}, **extra)


@pytest.mark.django_db
def test_the_home_page_is_public_and_the_admins_view_site_leads_there(client, admin_user, settings):
    settings.REFURB_ISSUER = "Kestrel GPU Works"
    page = client.get("/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Kestrel GPU Works" in body and 'name="q"' in body and "Check a certificate" in body
    client.force_login(admin_user)
    admin = client.get("/admin/").content.decode()
    assert 'href="/"' in admin and "View site" in admin
    assert "Benches" in admin and "Benchs" not in admin


@pytest.mark.django_db
def test_a_printed_id_opens_its_certificate_whatever_the_case_and_dashes(make_units, reports, client):
    _, certificate = certified(make_units, reports["healthy"], lot="HOME1")
    for typed in (certificate.printed_id, certificate.printed_id.lower(), f"  {certificate.public_id}  ",
                  certificate.printed_id.replace("-", " ")):
        response = lookup(client, typed)
        assert response.status_code == 302 and response["Location"] == f"/verify/{certificate.public_id}/", typed


@pytest.mark.django_db
def test_a_board_serial_opens_the_valid_or_newest_certificate(make_units, reports, client):
    unit, first = certified(make_units, reports["healthy"], lot="HOME2")
    typed = f" {unit.serial.lower()} "  # serials are forgiven their case and surrounding spaces
    assert lookup(client, typed)["Location"] == f"/verify/{first.public_id}/"
    # Retested and certified again: the new certificate, not the superseded one.
    retest(unit, reports["healthy"])
    unit_grade(unit=unit)
    second = certificate_issue(unit=unit)
    first.refresh_from_db()
    assert first.status == CertificateStatus.SUPERSEDED
    assert lookup(client, typed)["Location"] == f"/verify/{second.public_id}/"
    # Revoked, with no valid one left: the newest still opens, and its page says it is revoked.
    certificate_revoke(certificate=second, reason="returned with a cracked PCB")
    response = lookup(client, typed, follow=True)
    assert response.redirect_chain[-1][0] == f"/verify/{second.public_id}/"
    assert "Revoked" in response.content.decode() and "cracked PCB" in response.content.decode()


@pytest.mark.django_db
def test_a_serial_on_boards_of_two_makers_lists_both(make_units, reports, client):
    unit, certificate = certified(make_units, reports["healthy"], lot="HOME3")
    _, (twin,) = intake_import(lot_reference="HOME3B", actor_label="test", rows=[
        IntakeRow(2, {"model": "RTX 3070", "board_vendor": "Zotac", "serial": unit.serial})])
    twin = make_tested_unit(lambda *a, **k: [twin], reports["healthy"])
    unit_grade(unit=twin)
    twin_certificate = certificate_issue(unit=twin)
    page = lookup(client, unit.serial)
    assert page.status_code == 200
    body = page.content.decode()
    for c in (certificate, twin_certificate):
        assert f"/verify/{c.public_id}/" in body and c.printed_id in body
    assert "Zotac" in body and unit.board_vendor in body


@pytest.mark.django_db
def test_nothing_is_said_of_cards_never_certified(make_units, reports, client):
    (uncertified,) = make_units(1, lot="HOME4")
    unknown = lookup(client, "NO-SUCH-SERIAL-0000")
    stocked = lookup(client, uncertified.serial)
    assert unknown.status_code == stocked.status_code == 404
    strip = uncertified.serial, "NO-SUCH-SERIAL-0000"
    assert unknown.content.decode().replace(strip[1], "") == stocked.content.decode().replace(strip[0], "")
    assert "No certificate has this id, and no certified card has this serial" in stocked.content.decode()
    assert lookup(client, "x" * 101).status_code == 400
    for control in ("\x00", "SN\x00", "a\x1fb", "\x7f"):  # never a 500, on PostgreSQL either
        response = lookup(client, control)
        assert response.status_code == 400 and "control characters" in response.content.decode()


@pytest.mark.django_db
def test_lookups_are_rate_limited_but_the_page_is_not(make_units, reports, client, settings):
    unit, _ = certified(make_units, reports["healthy"], lot="HOME5")
    settings.REFURB_VERIFY_RATE = "2/min"
    assert [lookup(client, unit.serial).status_code for _ in range(2)] == [302, 302]
    limited = lookup(client, unit.serial)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert client.get("/").status_code == 200  # the page itself, with no lookup, is not counted
    # A client cannot pass for a new one by writing its own X-Forwarded-For header.
    assert lookup(client, unit.serial, HTTP_X_FORWARDED_FOR="203.0.113.77").status_code == 429
