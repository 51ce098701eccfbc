"""The inspection checklist at the bench, with photos from a phone: a photo is turned upright, scaled down and
stored as JPEG without its metadata; a file that is not a picture, or too large, is refused by name next to the
field, and nothing is recorded."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from inventory.models import Inspection, InspectionPhoto


def photo(name="shroud.png", size=(3200, 1800), fmt="PNG", orientation=None) -> SimpleUploadedFile:
    image = Image.new("RGB", size, (180, 40, 40))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation  # EXIF Orientation: the phone was held sideways
    exif[0x8825] = {2: (48.0, 51.0, 0.0)}  # a GPS position the stored photo must not keep
    image.save(out, format=fmt, exif=exif.tobytes())
    return SimpleUploadedFile(name, out.getvalue(), content_type=f"image/{fmt.lower()}")


CHECKLIST = {"cosmetic_grade": "B", "fan_condition": "ok", "thermal_pads": "original", "thermal_paste": "replaced",
             "bracket_present": "on", "missing_parts": "", "notes": "dust in fins, cleaned"}


@pytest.mark.django_db
def test_an_inspection_with_photos_is_recorded_and_the_photos_made_fit(make_units, technician_client):
    (unit,) = make_units(1, lot="INS-1")
    form = technician_client.get(f"/bench/unit/{unit.asset_tag}/inspect/").content.decode()
    assert 'capture="environment"' in form and 'accept="image/*"' in form and "sold on function only" in form
    response = technician_client.post(f"/bench/unit/{unit.asset_tag}/inspect/", {
        **CHECKLIST, "photos": [photo(), photo("back.jpg", size=(4000, 3000), fmt="JPEG", orientation=6)]})
    assert response["Location"] == f"/bench/unit/{unit.asset_tag}/"
    unit.refresh_from_db()
    inspection = Inspection.objects.get(unit=unit)
    assert unit.state == "inspected" and unit.cosmetic_grade == "B" and inspection.thermal_paste == "replaced"
    stored = {p.original_name: Image.open(p.image) for p in InspectionPhoto.objects.filter(inspection=inspection)}
    assert set(stored) == {"shroud.jpg", "back.jpg"}
    assert stored["shroud.jpg"].size == (1600, 900) and stored["shroud.jpg"].format == "JPEG"
    assert stored["back.jpg"].size == (1200, 1600)  # turned upright as the phone held it
    assert 0x8825 not in stored["back.jpg"].getexif()  # no GPS position kept
    page = technician_client.get(f"/bench/unit/{unit.asset_tag}/").content.decode()
    assert all(f"/api/inspection-photos/{p.pk}/image/" in page for p in InspectionPhoto.objects.all())


@pytest.mark.django_db
def test_a_file_that_is_not_a_photo_or_too_large_is_refused_by_name(make_units, technician_client, settings):
    (unit,) = make_units(1, lot="INS-2")
    fake = SimpleUploadedFile("invoice.jpg", b"%PDF-1.7 not a picture", content_type="image/jpeg")
    refused = technician_client.post(f"/bench/unit/{unit.asset_tag}/inspect/", {**CHECKLIST, "photos": [photo(), fake]})
    assert refused.status_code == 400 and "invoice.jpg: not a photo this bench can read" in refused.content.decode()
    settings.REFURB_PHOTO_MAX_BYTES = 1000
    big = technician_client.post(f"/bench/unit/{unit.asset_tag}/inspect/", {**CHECKLIST, "photos": [photo()]})
    assert big.status_code == 400 and "shroud.png:" in big.content.decode() and "MiB a photo may be" in (
        big.content.decode())
    missing = technician_client.post(f"/bench/unit/{unit.asset_tag}/inspect/", {"fan_condition": "ok"})
    assert missing.status_code == 400 and "This field is required" in missing.content.decode()
    assert not Inspection.objects.filter(unit=unit).exists()
