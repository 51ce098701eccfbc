"""Labels: one per card at the label printer's size, A4 sheets of 27 for a lot, a certificate label only for a card
with a valid certificate; from the unit page, the batch, a lot and the command; bad requests named."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pypdf import PdfReader

MM = 72 / 25.4  # PDF points per millimetre


def pages(pdf: bytes):
    return PdfReader(io.BytesIO(pdf)).pages


def size_mm(page) -> tuple[float, float]:
    return round(float(page.mediabox.width) / MM), round(float(page.mediabox.height) / MM)


@pytest.mark.django_db
def test_asset_labels_fit_the_printer_and_name_the_card(make_units, technician_client):
    units = make_units(2, lot="LBL-1")
    for profile, size in (("62x29", (62, 29)), ("50x25", (50, 25))):
        response = technician_client.get("/bench/labels/", {"unit": [u.asset_tag for u in units], "profile": profile})
        assert response["Content-Type"] == "application/pdf"
        printed = pages(response.content)
        assert len(printed) == 2 and {size_mm(p) for p in printed} == {size}
        text = printed[1].extract_text()
        assert units[1].asset_tag in text and "GeForce RTX 3080" in text and units[1].serial in text
        assert "LBL-1" not in text.replace(units[1].serial, "")  # the lot stays here: the label leaves with the card


@pytest.mark.django_db
def test_a_lot_prints_on_a4_sheets_and_by_command(make_units, technician_client, tmp_path):
    make_units(30, lot="LBL-2")
    sheets = pages(technician_client.get("/bench/labels/", {"lot": "LBL-2", "profile": "a4"}).content)
    assert len(sheets) == 2 and size_mm(sheets[0]) == (210, 297)  # 27 on the first sheet, 3 on the second
    assert sheets[0].extract_text().count("S/N") == 27 and sheets[1].extract_text().count("S/N") == 3
    out = tmp_path / "lot.pdf"
    call_command("labels", "--lot", "LBL-2", "--profile", "50x25", "--out", str(out), stdout=io.StringIO())
    assert len(pages(out.read_bytes())) == 30
    with pytest.raises(CommandError, match="no lot 'NOPE'"):
        call_command("labels", "--lot", "NOPE", "--out", str(out))


@pytest.mark.django_db
def test_a_certificate_label_needs_a_valid_certificate(make_units, walk, technician_client):
    certified, plain = make_units(2, lot="LBL-3")
    walk(certified, "certified")
    public_id = certified.certificates.get().public_id
    label = technician_client.get("/bench/labels/", {"unit": certified.asset_tag, "kind": "certificate"})
    text = pages(label.content)[0].extract_text()
    assert "Certified F-A/A" in text and public_id in text.replace("\n", "")
    refused = technician_client.get("/bench/labels/", {"unit": [certified.asset_tag, plain.asset_tag],
                                                       "kind": "certificate"})
    assert refused.status_code == 400 and f"no valid certificate: {plain.asset_tag}" in refused.content.decode()
    assert "not a label profile" in technician_client.get("/bench/labels/", {"unit": plain.asset_tag,
                                                                      "profile": "A7"}).content.decode()
    assert "no cards to label" in technician_client.get("/bench/labels/", {"unit": "NOPE"}).content.decode()


@pytest.mark.django_db
def test_the_batch_prints_its_labels_in_scan_order(make_units, technician_client):
    units = make_units(3, lot="LBL-4")
    for unit in reversed(units):
        technician_client.post("/bench/batch/", {"action": "add", "code": unit.asset_tag})
    printed = pages(technician_client.get("/bench/labels/", {"batch": "1"}).content)
    assert [units[2].asset_tag in printed[0].extract_text(), units[0].asset_tag in printed[2].extract_text()] == [
        True, True]
