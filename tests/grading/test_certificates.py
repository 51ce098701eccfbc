"""Certificates: issuing signs the card's grade and certifies the card; the PDF carries the grade, serial, id and the
signed payload; regrading supersedes, revoking revokes; the public page, endpoint and keys; verify_certificate."""

import io
import json
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from core.errors import InvalidInput
from grading.models import Certificate, CertificateStatus, Grade, PublishedKey
from grading.pdf import ATTACHMENT_NAME
from grading.services import certificate_issue, certificate_revoke, unit_grade
from grading.services.documents import certificate_pdf_bytes, certificate_render
from grading.signing import verify_signature
from inventory.choices import EventKind, UnitState
from inventory.models import UnitEvent
from testbench.models import Bench
from testbench.services import run_create, run_finish, run_start

from .conftest import make_tested_unit


def certified(make_units, report, lot="CERT1", slots=0, **lot_fields):
    unit = make_tested_unit(make_units, report, lot=lot, slots=slots)
    if lot_fields:
        unit.lot.__class__.objects.filter(pk=unit.lot_id).update(**lot_fields)
    unit_grade(unit=unit)
    certificate = certificate_issue(unit=unit, actor_label="test")
    certificate_render(certificate.pk)  # what the task does on commit
    certificate.refresh_from_db()
    unit.refresh_from_db()
    return unit, certificate


def pdf_of(certificate) -> tuple[str, dict]:
    reader = PdfReader(io.BytesIO(certificate.pdf.open("rb").read()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text, json.loads(reader.attachments[ATTACHMENT_NAME][0])


def retest(unit, report):
    from inventory.services import unit_transition

    unit_transition(unit=unit, to_state=UnitState.QUEUED, reason="retest")
    bench = Bench.objects.get(name="grading-bench")
    run = run_start(run=run_create(unit=unit, plan="quick", bench=bench), identity=report.identity, software={})
    run_finish(run=run, report=report)
    unit.refresh_from_db()


@pytest.mark.django_db
def test_issuing_signs_the_grade_and_certifies_the_card_and_says_nothing_internal(make_units, reports, client):
    """Values planted in every internal field a certificate is built near (the lot, the bench host, its worker, the
    card's slot, what the worker wrote as software, the admin who overrode the grade) appear on no public face."""
    from django.contrib.auth import get_user_model

    from grading.services import grade_override
    from inventory.services import inspection_record

    (unit,) = make_units(1, lot="LEAK1", supplier="Zqx7 Secret Mining Co", total_cost="48213.77",
                         notes="internal-lot-note-Kv93")
    inspection_record(unit=unit, cosmetic_grade="A", fan_condition="ok")
    bench = Bench.objects.create(name="bnchqx71", worker="wrkqx72@hostqx73.lan", simulated=True)
    run = run_create(unit=unit, plan="quick", bench=bench, device_label="slotqx74")
    report = reports["healthy"]
    # A host name where a version belongs, one inside a version, and a member no certificate has.
    software = {"refurb": "0.1.0", "torch": "2.3.0+cpu", "driver": "hostqx73", "cuda": "12.1-bnchqx71",
                "host": "hostqx73.lan"}
    run = run_start(run=run, identity=report.identity, software=software, worker="wrkqx72@hostqx73.lan")
    run_finish(run=run, report=report)
    measured = unit_grade(unit=unit)
    admin = get_user_model().objects.create_user(username="admqx75", password=None, is_staff=True)
    grade_override(unit=unit, functional="F-B", reason="fan bearing audible at idle", actor=admin)
    certificate = certificate_issue(unit=unit, actor=admin)
    certificate_render(certificate.pk)
    certificate.refresh_from_db()
    unit.refresh_from_db()

    assert unit.state == UnitState.CERTIFIED
    event = UnitEvent.objects.filter(unit=unit).latest("id")
    assert event.to_state == UnitState.CERTIFIED and certificate.printed_id in event.reason
    assert len(certificate.public_id) == 28 and certificate.printed_id.count("-") == 6
    payload = certificate.payload
    assert payload["schema"] == "refurb-certificate/6"
    assert all(check["findings"] == [] for check in payload["test"]["checks"])  # a healthy card: nothing found
    assert payload["id"] == certificate.public_id and payload["card"]["serial"] == unit.serial
    assert payload["grade"]["functional"] == "F-B" and payload["grade"]["override"] == {
        "measured_grade": measured.functional, "reason": "fan bearing audible at idle", "by": "admin",
        "at": payload["grade"]["override"]["at"]}
    assert payload["test"]["software"] == {"refurb": "0.1.0", "torch": "2.3.0+cpu", "driver": None, "cuda": None}
    assert payload["verify_url"] == f"https://certs.example.test/verify/{certificate.public_id}/"
    assert {c["name"] for c in payload["test"]["checks"]} >= {"vram", "compute", "performance", "thermal"}
    assert payload["ai_readiness"]["largest_model_billions"]["int4"] > 10
    text, envelope = pdf_of(certificate)
    faces = {
        "payload": json.dumps(payload),
        "PDF text": text,
        "PDF attachment": json.dumps(envelope),
        "verify page": client.get(f"/verify/{certificate.public_id}/").content.decode(),
        "API": client.get(f"/api/certificates/{certificate.public_id}/verify/").content.decode(),
    }
    assert "Grade overridden by admin on" in " ".join(text.split())  # the role, where the admin's name was
    assert "overridden by an admin" in faces["verify page"]
    # Values no measurement can produce: a figure such as 0.0999 TFLOP/s once matched a cost of "999".
    planted = ("Zqx7 Secret Mining Co", "48213.77", "48213", "internal-lot-note-Kv93", "bnchqx71", "wrkqx72",
               "hostqx73", "slotqx74", "admqx75")
    for face, shown in faces.items():
        for internal in planted:
            assert internal.lower() not in shown.lower(), f"{internal} on the {face}"
    for internal in ("\"lot", "cost", "supplier", "notes", "grading-bench", "\"bench", "\"worker\"", "\"host\""):
        assert internal not in faces["payload"]
    key = PublishedKey.objects.get()
    assert certificate.key_id == key.key_id and key.retired_at is None


@pytest.mark.django_db
def test_the_pdf_holds_grade_serial_id_and_the_signed_payload(make_units, reports):
    # A degraded link counts against the card once a second slot has confirmed it.
    _, certificate = certified(make_units, reports["pcie_degraded"], slots=2)
    text, envelope = pdf_of(certificate)
    squashed = "".join(text.split())
    for fact in (certificate.payload["card"]["serial"], certificate.printed_id, certificate.key_id):
        assert fact in squashed
    assert "FunctionalF-C(policy" in squashed  # the grade's own row, not three letters of the printed id
    assert "AI-readiness" in text and "PCIe: link gen1 x1" in text
    assert "Used (3000)" in text  # the eBay condition, named and with its id (F-C: a stated limitation)
    # The embedded payload round-trips and verifies against the published key.
    from grading.keys import keyring

    assert envelope["payload"] == certificate.payload and envelope["kid"] == certificate.key_id
    assert verify_signature(envelope["payload"], envelope["signature"], envelope["kid"], keyring()) == ""
    assert len(PdfReader(certificate.pdf.open("rb")).pages) <= 2


@pytest.mark.django_db
def test_rendering_is_deterministic_and_never_changes_the_payload(make_units, reports, monkeypatch):
    _, certificate = certified(make_units, reports["healthy"])
    before = (certificate.canonical, certificate.signature, certificate.payload, certificate.pdf_sha256)
    first = certificate_pdf_bytes(certificate)
    # A day later, the same bytes: nothing in the PDF (fonts included, whichever subsetter made them) reads the clock.
    now = time.time
    monkeypatch.setattr(time, "time", lambda: now() + 86_400.5)
    second = certificate_pdf_bytes(certificate)
    monkeypatch.undo()
    assert first == second
    certificate_render(certificate.pk)
    certificate.refresh_from_db()
    assert (certificate.canonical, certificate.signature, certificate.payload, certificate.pdf_sha256) == before


@pytest.mark.django_db
def test_only_a_graded_passing_card_is_certified(make_units, reports):
    bad = make_tested_unit(make_units, reports["vram_stuck_bit"], lot="BAD")
    unit_grade(unit=bad)
    with pytest.raises(InvalidInput, match="is failed; a certificate is issued for a graded card"):
        certificate_issue(unit=bad)
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_a_retest_supersedes_the_certificate_and_the_new_one_points_back(make_units, reports, client):
    unit, old = certified(make_units, reports["healthy"])
    retest(unit, reports["mining_vbios"])
    unit_grade(unit=unit)
    old.refresh_from_db()
    assert old.status == CertificateStatus.SUPERSEDED and old.superseded_by is None
    page = client.get(f"/verify/{old.public_id}/").content.decode()
    assert "Superseded" in page and "has not been certified again" in page
    new = certificate_issue(unit=unit)
    old.refresh_from_db()
    assert old.superseded_by == new and new.payload["supersedes"] == old.public_id
    page = client.get(f"/verify/{old.public_id}/").content.decode()
    assert "Superseded" in page and new.public_id in page
    answer = client.get(f"/api/certificates/{old.public_id}/verify/").json()
    assert answer["status"] == "superseded" and answer["valid"] is False
    assert answer["superseded_by"]["id"] == new.public_id and answer["signature"]["valid"] is True


@pytest.mark.django_db
def test_revoking_shows_everywhere_and_holds_the_card(make_units, reports, client):
    unit, certificate = certified(make_units, reports["healthy"])
    with pytest.raises(InvalidInput, match="needs a reason"):
        certificate_revoke(certificate=certificate, reason="  ")
    certificate_revoke(certificate=certificate, reason="serial sticker found to be forged", actor_label="test")
    unit.refresh_from_db()
    assert unit.state == UnitState.ON_HOLD
    event = UnitEvent.objects.filter(unit=unit).latest("id")
    assert event.kind == EventKind.CERTIFICATE_REVOKED and "forged" in event.reason
    page = client.get(f"/verify/{certificate.public_id}/").content.decode()
    assert "Revoked" in page and "serial sticker found to be forged" in page
    answer = client.get(f"/api/certificates/{certificate.public_id}/verify/").json()
    assert (answer["status"], answer["valid"], answer["status_reason"]) == \
        ("revoked", False, "serial sticker found to be forged")


@pytest.mark.django_db
def test_the_public_page_needs_no_account_and_reads_ids_as_printed(make_units, reports, client):
    _, certificate = certified(make_units, reports["healthy"])
    for typed in (certificate.public_id, certificate.printed_id.lower(), f" {certificate.printed_id} "):
        response = client.get(f"/verify/{typed}/")
        assert response.status_code == 200, typed
    body = response.content.decode()
    assert "Valid." in body and certificate.payload["card"]["serial"] in body
    assert "<b>F-A</b> functional" in body  # the grade itself, not three letters of the printed id
    pdf = client.get(f"/verify/{certificate.public_id}/certificate.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content) == certificate.pdf.open("rb").read()
    answer = client.get(f"/api/certificates/{certificate.public_id}/verify/").json()
    assert answer["valid"] is True and answer["facts"]["serial"] == certificate.payload["card"]["serial"]
    assert answer["payload"] == certificate.payload


def test_ids_are_read_as_printed_or_misread():
    from grading.services import public_id_normalize

    stored = "R18PD2FCYS5GG5DZJ391CY32ZB06"
    for typed in ("R18P-D2FC-YS5G-G5DZ-J391-CY32-ZB06", "r18p d2fc ys5g g5dz j391 cy32 zb06",
                  "RI8P-D2FC-YS5G-G5DZ-J39I-CY32-ZBO6"):  # I and L read as 1, O as 0
        assert public_id_normalize(typed) == stored, typed
    for wrong in ("", "R18PD2FCYS5GG5DZJ391CY32ZB0", "R18PD2FCYS5GG5DZJ391CY32ZB06X", "U18PD2FCYS5GG5DZJ391CY32ZB06"):
        assert public_id_normalize(wrong) == "", wrong  # too short, too long, U is not in the alphabet


@pytest.mark.django_db
def test_unknown_ids_get_a_plain_404(client, settings, catalog):
    settings.DEBUG = True  # even a debug server answers a guessed id with the plain page, not its URL list
    for path in ("/verify/0000000000000000000000000000/", "/verify/not-an-id/",
                 "/verify/0000000000000000000000000000/certificate.pdf"):
        response = client.get(path)
        assert response.status_code == 404
        assert b"Not found" in response.content and b"urlpatterns" not in response.content.lower()
    response = client.get("/api/certificates/0000000000000000000000000000/verify/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_a_record_changed_in_the_database_no_longer_verifies(make_units, reports, client):
    _, certificate = certified(make_units, reports["healthy"])
    payload = certificate.payload
    payload["grade"]["functional"] = "F-A+"
    Certificate.objects.filter(pk=certificate.pk).update(payload=payload)
    answer = client.get(f"/api/certificates/{certificate.public_id}/verify/").json()
    assert answer["valid"] is False and "differs from the bytes that were signed" in answer["signature"]["problem"]
    assert "Signature check failed" in client.get(f"/verify/{certificate.public_id}/").content.decode()


@pytest.mark.django_db
def test_the_verify_endpoints_are_rate_limited(make_units, reports, client, settings):
    _, certificate = certified(make_units, reports["healthy"])
    settings.REFURB_VERIFY_RATE = "3/min"
    codes = [client.get(f"/verify/{certificate.public_id}/").status_code for _ in range(3)]
    limited = client.get(f"/verify/{certificate.public_id}/")
    api = client.get(f"/api/certificates/{certificate.public_id}/verify/")
    assert codes == [200, 200, 200] and limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert api.status_code == 429
    other = client.get(f"/verify/{certificate.public_id}/", REMOTE_ADDR="192.0.2.9")  # per client address
    assert other.status_code == 200


@pytest.mark.django_db
def test_rotation_keeps_old_keys_published_and_old_certificates_valid(make_units, reports, client, tmp_path):
    _, old = certified(make_units, reports["healthy"], lot="ROT1")
    call_command("signing_key", "rotate", stdout=StringIO())
    _, new = certified(make_units, reports["healthy"], lot="ROT2")
    assert new.key_id != old.key_id
    document = client.get("/.well-known/refurb-keys.json").json()
    statuses = {k["kid"]: k["status"] for k in document["keys"]}
    assert statuses == {old.key_id: "retired", new.key_id: "current"}
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(document))
    for certificate in (old, new):
        path = tmp_path / f"{certificate.public_id}.pdf"
        path.write_bytes(certificate.pdf.open("rb").read())
        call_command("verify_certificate", str(path), "--keys", str(keys_file), stdout=StringIO())
        assert client.get(f"/api/certificates/{certificate.public_id}/verify/").json()["valid"] is True
    assert list((tmp_path / "keys").glob("signing.retired-*.pem"))  # the old key file, kept aside to shred


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def pdf_with_attachment(original: bytes, envelope: dict) -> bytes:
    """The same PDF pages with the attachment replaced (what a forger would do)."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(original))
    writer._root_object.pop("/Names", None)
    writer.add_attachment(ATTACHMENT_NAME, json.dumps(envelope).encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.django_db
def test_verify_certificate_reports_genuine_tampered_and_revoked_pdfs(make_units, reports, tmp_path):
    unit, certificate = certified(make_units, reports["healthy"])
    original = certificate.pdf.open("rb").read()
    out = StringIO()
    call_command("verify_certificate", write(tmp_path, "good.pdf", original), stdout=out)
    assert "signature: good" in out.getvalue() and "matches the issuer's record" in out.getvalue()

    _, envelope = pdf_of(certificate)
    forged = json.loads(json.dumps(envelope))
    forged["payload"]["grade"]["functional"] = "F-A"  # unchanged grade, changed serial
    forged["payload"]["card"]["serial"] = "SOMEONE-ELSES"
    out = StringIO()
    with pytest.raises(CommandError, match="NOT VERIFIED") as caught:
        call_command("verify_certificate", write(tmp_path, "forged.pdf", pdf_with_attachment(original, forged)),
                     stdout=out)
    assert caught.value.returncode == 1 and "signature: the signature does not match" in out.getvalue()
    assert "differs from the issuer's record" in out.getvalue()

    # A genuine payload inside a PDF whose printed page says something else.
    from weasyprint import HTML, Attachment

    page = HTML(string=f"<p>Certificate {certificate.printed_id} serial FAKE-123 grade F-A</p>").write_pdf(
        attachments=[Attachment(string=json.dumps(envelope).encode(), name=ATTACHMENT_NAME)])
    out = StringIO()
    with pytest.raises(CommandError, match="NOT VERIFIED"):
        call_command("verify_certificate", write(tmp_path, "reprinted.pdf", page), stdout=out)
    assert f"the serial {unit.serial} from the signed payload is not on the page" in out.getvalue()
    # The grade edited in its row, with "F-A" left elsewhere on the page (as it may stand inside a printed id).
    page = HTML(string=f"<p>Certificate {certificate.printed_id} serial {unit.serial}</p><p>Functional F-C "
                       "(policy 2026.12-1)</p><p>XYZF-A12</p>").write_pdf(
        attachments=[Attachment(string=json.dumps(envelope).encode(), name=ATTACHMENT_NAME)])
    out = StringIO()
    with pytest.raises(CommandError, match="NOT VERIFIED"):
        call_command("verify_certificate", write(tmp_path, "regraded.pdf", page), stdout=out)
    assert "the functional grade F-A from the signed payload is not on the page" in out.getvalue()

    certificate_revoke(certificate=certificate, reason="card returned with a cracked PCB")
    out = StringIO()
    with pytest.raises(CommandError, match="NOT VERIFIED"):
        call_command("verify_certificate", write(tmp_path, "revoked.pdf", original), stdout=out)
    assert "status: revoked: card returned with a cracked PCB" in out.getvalue()


@pytest.mark.django_db
def test_verify_certificate_with_the_wrong_keys_or_a_bad_file(make_units, reports, tmp_path, client):
    _, certificate = certified(make_units, reports["healthy"])
    pdf = write(tmp_path, "c.pdf", certificate.pdf.open("rb").read())
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from grading.signing import public_jwk

    other = public_jwk(Ed25519PrivateKey.generate().public_key())
    keys = write(tmp_path, "other.json", json.dumps({"keys": [other]}).encode())
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("verify_certificate", pdf, "--keys", keys, stdout=out)
    assert caught.value.returncode == 1 and "is not among the published keys" in out.getvalue()
    for args, message in (
        (["/nonexistent.pdf"], "cannot read /nonexistent.pdf"),
        ([write(tmp_path, "not.pdf", b"hello")], "not a readable PDF"),
        ([pdf, "--keys", write(tmp_path, "bad.json", b"[1, 2]")], "is not a key document"),
    ):
        with pytest.raises(CommandError, match=message) as caught:
            call_command("verify_certificate", *args, stdout=StringIO())
        assert caught.value.returncode == 2
    from weasyprint import HTML

    with pytest.raises(CommandError, match="no refurb-certificate.json attachment") as caught:
        call_command("verify_certificate", write(tmp_path, "plain.pdf", HTML(string="<p>hi</p>").write_pdf()),
                     stdout=StringIO())
    assert caught.value.returncode == 2


@pytest.mark.django_db
def test_the_certify_command(make_units, reports):
    good = make_tested_unit(make_units, reports["healthy"], lot="CMD1")
    bad = make_tested_unit(make_units, reports["vram_stuck_bit"], lot="CMD2")
    unit_grade(unit=good)
    unit_grade(unit=bad)
    out = StringIO()
    call_command("certify", "--all-graded", stdout=out)  # the failed card is not graded, so not offered
    certificate = Certificate.objects.get()
    assert certificate.unit == good
    assert f"{good.asset_tag:<13} F-A/A  {certificate.printed_id}  {certificate.payload['verify_url']}" in \
        out.getvalue() and out.getvalue().strip().endswith("1 certified")
    errors = StringIO()
    with pytest.raises(CommandError, match="1 card\\(s\\) could not be certified") as caught:
        call_command("certify", bad.asset_tag.lower(), stdout=StringIO(), stderr=errors)
    assert caught.value.returncode == 1 and "is failed; a certificate is issued for a graded card" in errors.getvalue()
    with pytest.raises(CommandError, match="no unit with asset tag RF-NOPE") as caught:
        call_command("certify", "RF-NOPE", stdout=StringIO())
    assert caught.value.returncode == 2
    with pytest.raises(CommandError, match="one or the other") as caught:
        call_command("certify", good.asset_tag, "--all-graded", stdout=StringIO())
    assert caught.value.returncode == 2


@pytest.mark.django_db
def test_the_signing_key_command(tmp_path, settings):
    out = StringIO()
    call_command("signing_key", "show", stdout=out)  # creates the key file on first use, and publishes it
    document = json.loads(out.getvalue())
    assert [k["status"] for k in document["keys"]] == ["current"]
    assert (settings.REFURB_SIGNING_KEY_FILE.stat().st_mode & 0o777) == 0o600
    target = tmp_path / "new.pem"
    out = StringIO()
    call_command("signing_key", "generate", str(target), stdout=out)
    assert target.exists() and (target.stat().st_mode & 0o777) == 0o600 and "wrote" in out.getvalue()
    with pytest.raises(CommandError, match="never overwritten") as caught:
        call_command("signing_key", "generate", str(target), stdout=StringIO())
    assert caught.value.returncode == 2
    settings.REFURB_SIGNING_KEY = target.read_text()  # a key from the setting cannot be rotated by file
    with pytest.raises(CommandError, match="comes from the REFURB_SIGNING_KEY setting") as caught:
        call_command("signing_key", "rotate", stdout=StringIO())
    assert caught.value.returncode == 2


def first_page_text_boxes(html: str) -> list[tuple[float, float, float, float, str]]:
    """Where WeasyPrint laid out each run of text on page 1: (left, top, right, bottom, text)."""
    from weasyprint import HTML
    from weasyprint.formatting_structure.boxes import TextBox

    from grading.pdf import _font_config

    page = HTML(string=html).render(font_config=_font_config()).pages[0]
    return [(box.position_x, box.position_y, box.position_x + box.width, box.position_y + box.height, box.text)
            for box in page._page_box.descendants() if isinstance(box, TextBox) and box.text.strip()]


def overlapping(boxes, tolerance=0.5):
    pairs = []
    for i, (l1, t1, r1, b1, text1) in enumerate(boxes):
        for l2, t2, r2, b2, text2 in boxes[i + 1:]:
            if min(r1, r2) - max(l1, l2) > tolerance and min(b1, b2) - max(t1, t2) > tolerance:
                pairs.append((text1, text2))
    return pairs


@pytest.mark.django_db
def test_long_values_wrap_inside_their_cells_and_no_text_overlaps_on_the_first_page(make_units, reports):
    from types import SimpleNamespace

    from grading.pdf import certificate_html

    _, certificate = certified(make_units, reports["healthy"])
    payload = json.loads(json.dumps(certificate.payload))
    payload["card"].update(nvml_uuid="GPU-8f3c2a9e-51d7-4b6a-9e0c-7d2f41a8b3c5", vbios_version="94.02.71.80.A7XQ1Z",
                           board_vendor="Gigabyte Technology Co., Ltd. AORUS Master Edition Rev 2.0",
                           serial="SN2137040052910000ABCDEFGH12345")
    long = "hotspot 41 °C above the core under sustained load (repaste and replace the memory pads)"
    payload["grade"].update(functional="F-B", reasons=[
        {"code": "thermal_hotspot_delta", "severity": "warn", "sentence": f"thermal: {long}"},
        {"code": "mining_power_limit", "severity": "warn", "sentence": "identity: power limit 143 W of a 200 W "
                                                                       "default, left from mining; reset to default"},
        {"code": "pcie_link_degraded", "severity": "limit", "sentence": "PCIe link gen1 x1 where the card is built "
                                                                        "for gen4 x16: host transfers limited"}])
    stand_in = SimpleNamespace(payload=payload, printed_id=certificate.printed_id, key_id=certificate.key_id,
                               signature=certificate.signature, public_id=certificate.public_id)
    html = certificate_html(stand_in, telemetry_columns=None)
    boxes = first_page_text_boxes(html)
    texts = " ".join(b[4] for b in boxes)
    assert "GPU-8f3c" in texts and "repaste" in texts and "AORUS" in texts  # the long values are on the page
    assert overlapping(boxes) == []
    # The test can fail: a UUID that cannot wrap runs into the next column.
    unbreakable = html.replace("</style>", "td { overflow-wrap: normal !important; }</style>")
    assert overlapping(first_page_text_boxes(unbreakable)) != []


@pytest.mark.django_db
def test_a_certificate_of_schema_1_still_verifies_and_shows_its_conditions_by_name(make_units, reports, client):
    """Issued before marketplace conditions carried ids (and while the payload named the bench): what it signed
    stands, and every face shows it."""
    from grading.keys import signing_key_for_issue
    from grading.pdf import certificate_html

    _, certificate = certified(make_units, reports["healthy"], lot="OLD1")
    payload = json.loads(json.dumps(certificate.payload))
    payload["schema"] = "refurb-certificate/1"
    payload["test"]["bench"] = "bench-07"
    payload["grade"].update(policy_version="2026.11-1",
                            marketplace={"ebay": "Excellent - Refurbished", "backmarket": "Excellent"})
    canonical, signature = signing_key_for_issue().sign(payload)
    Certificate.objects.filter(pk=certificate.pk).update(payload=payload, canonical=canonical.decode(),
                                                         signature=signature)
    certificate.refresh_from_db()
    answer = client.get(f"/api/certificates/{certificate.public_id}/verify/").json()
    assert answer["valid"] is True and answer["facts"]["ebay_condition"] == "Excellent - Refurbished"
    page = client.get(f"/verify/{certificate.public_id}/").content.decode()
    assert "Valid." in page and "Excellent - Refurbished" in page
    html = certificate_html(certificate, telemetry_columns=None)
    assert "Excellent - Refurbished" in html and "Back Market" in html


@pytest.mark.django_db
def test_grades_stored_with_condition_names_are_restated_with_ids(make_units, reports, settings):
    import importlib

    migration = importlib.import_module("grading.migrations.0003_marketplace_condition_ids")
    unit = make_tested_unit(make_units, reports["healthy"], lot="OLD2")
    grade = unit_grade(unit=unit)
    Grade.objects.filter(pk=grade.pk).update(policy_version="2026.11-1", marketplace={
        "ebay": "Excellent - Refurbished", "backmarket": "Excellent"})
    from django.apps import apps

    migration.restate(apps, None)
    grade.refresh_from_db()
    assert grade.policy_version == "2026.11-1"  # the grade was given under it; only its conditions are restated
    assert grade.marketplace == {"ebay": {"id": 2500, "name": "Seller refurbished", "enum": "SELLER_REFURBISHED"},
                                 "backmarket": {"id": None, "name": "Excellent"},
                                 "google_shopping": {"id": "refurbished", "name": "Refurbished"}}
    settings.REFURB_EBAY_REFURBISHED_PROGRAMME = True  # a seller in the programme keeps its refurbished condition
    Grade.objects.filter(pk=grade.pk).update(marketplace={"ebay": "Excellent - Refurbished"})
    migration.restate(apps, None)
    grade.refresh_from_db()
    assert grade.marketplace["ebay"]["id"] == 2010


def test_the_thermal_series_is_short_rounded_and_measured():
    from grading.payload import THERMAL_POINTS, thermal_series

    times = [1000.0 + 0.5 * i for i in range(1001)]  # a bench's monotonic clock, not time since the soak began
    columns = {"time": times, "gpu_temp_c": [40 + i / 7 for i in range(1001)], "power_w": [float("nan")] * 1001,
               "sm_clock_mhz": [1800.123456] * 1000 + [None], "fan_speed_pct": [55] * 1001}
    series = thermal_series(columns)
    assert set(series) == {"time_s", "gpu_temp_c", "sm_clock_mhz"}  # no readings of power, no fans charted
    assert len(series["time_s"]) == len(series["gpu_temp_c"]) == THERMAL_POINTS
    assert series["time_s"][0] == 0 and series["time_s"][-1] == 500  # first and last reading kept
    assert series["sm_clock_mhz"][0] == 1800 and series["sm_clock_mhz"][-1] is None
    picked = [round(t * 2) for t in series["time_s"]]
    assert all(series["gpu_temp_c"][k] == float(f"{40 + i / 7:.4g}") for k, i in enumerate(picked))  # as measured
    short = {"time": times[:50], "gpu_temp_c": list(range(50))}
    assert len(thermal_series(short)["time_s"]) == 50
    assert thermal_series({}) is None and thermal_series({"time": [1.0], "gpu_temp_c": [50]}) is None


@pytest.mark.django_db
def test_a_schema_3_pdf_is_drawn_from_its_signed_payload_alone(make_units, reports, client):
    """Anyone holding the PDF's attachment can draw it again: the same bytes, whatever order the payload's keys
    come in and whatever telemetry the issuer holds. A schema-2 payload still charts the run's telemetry."""
    from grading.pdf import SignedCertificate, certificate_pdf
    from grading.signing import canonicalize
    from testbench.models import RunTelemetry

    _, certificate = certified(make_units, reports["healthy"])
    stored = certificate.pdf.open("rb").read()
    text, envelope = pdf_of(certificate)
    assert "Thermal soak" in text and 2 <= len(certificate.payload["test"]["thermal"]["time_s"]) <= 120
    # Keys in reverse order (a payload read back from jsonb or from the attachment is ordered otherwise).
    reordered = json.loads(canonicalize(envelope["payload"]), object_pairs_hook=lambda pairs: dict(pairs[::-1]))
    redrawn = certificate_pdf(SignedCertificate(payload=reordered, signature=envelope["signature"],
                                                key_id=envelope["kid"]))
    assert redrawn == stored
    other = {"time": [0, 1, 2], "gpu_temp_c": [90, 95, 99], "power_w": [300, 320, 310]}
    assert certificate_pdf(certificate, telemetry_columns=other) == stored
    older = SignedCertificate(payload={**certificate.payload, "schema": "refurb-certificate/2"},
                              signature=certificate.signature, key_id=certificate.key_id)
    columns = RunTelemetry.objects.get(run=certificate.run).columns
    assert certificate_pdf(older, telemetry_columns=other) != certificate_pdf(older, telemetry_columns=columns)
