"""What a verifier must not accept (issue 11): printed pages painted over, ambiguous JSON, malformed attachments —
through verify_certificate offline (--keys) and online, the verify page and API — and a fuzz of the offline
verifier over envelope shapes."""

import io
import json
import os
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from grading.models import Certificate
from grading.pdf import ATTACHMENT_NAME
from grading.signing import canonicalize

from .test_certificates import certified, pdf_of, write

CI = bool(os.environ.get("CI"))


@pytest.fixture
def genuine(make_units, reports, tmp_path, client):
    """A certificate, its PDF's bytes, its envelope and a saved keys.json."""
    _, certificate = certified(make_units, reports["healthy"], lot="HOST1")
    keys = write(tmp_path, "keys.json", client.get("/.well-known/refurb-keys.json").content)
    return certificate, certificate.pdf.open("rb").read(), pdf_of(certificate)[1], keys


def verify(tmp_path, data: bytes, *args, name="c.pdf") -> tuple[int, str]:
    """(exit status, output) of verify_certificate on `data`; anything raised but CommandError fails the test."""
    out = StringIO()
    try:
        call_command("verify_certificate", write(tmp_path, name, data), *args, stdout=out)
    except CommandError as exc:
        assert "\n" not in str(exc)
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def with_attachments(original: bytes, *attachments: bytes) -> bytes:
    """The same PDF pages with its attachment replaced by these bytes (one or more files of the same name)."""
    writer = PdfWriter(clone_from=io.BytesIO(original))
    writer._root_object.pop("/Names", None)
    for data in attachments:
        writer.add_attachment(ATTACHMENT_NAME, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def painted_over(original: bytes, html_boxes: str, page: int = 0) -> bytes:
    """`original` with an overlay merged onto a page, as a forger would with pypdf: the overlay's content appended
    as another content stream. `html_boxes`: absolutely placed boxes, in pt from the top left."""
    from weasyprint import HTML

    overlay = HTML(string=f"<style>@page {{ size: A4; margin: 0 }} div {{ position: absolute; background: white; "
                          f"font: bold 22pt sans-serif }}</style>{html_boxes}").write_pdf()
    writer = PdfWriter(clone_from=io.BytesIO(original))
    writer.pages[page].merge_page(PdfReader(io.BytesIO(overlay)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


BADGE = '<div style="left: 455pt; top: 40pt; width: 105pt; height: 60pt">F-A</div>'
BANNER = '<div style="left: 40pt; top: 112pt; width: 520pt; height: 48pt"></div>'
MODEL = '<div style="left: 40pt; top: 55pt; width: 300pt; height: 26pt; font-size: 16pt">NVIDIA RTX 4090</div>'


# --- 1. printed pages painted over ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_genuine_file_verifies_online_and_offline_byte_for_byte(genuine, tmp_path):
    _, original, _, keys = genuine
    status, out = verify(tmp_path, original, "--keys", keys)
    assert status == 0 and "identical, byte for byte" in out, out
    status, out = verify(tmp_path, original)
    assert status == 0 and "the file is the PDF the issuer rendered" in out, out


@pytest.mark.django_db
@pytest.mark.parametrize("boxes, what", [(BADGE, "grade badge"), (BANNER, "simulated-card banner"),
                                         (MODEL, "model name")], ids=["badge", "banner", "model"])
def test_pages_painted_over_are_not_the_issuers(genuine, tmp_path, boxes, what):
    certificate, original, _, keys = genuine
    forged = painted_over(original, boxes)
    # The printed facts are all still in the text layer: only the pages' comparison sees the paint.
    status, out = verify(tmp_path, forged, "--keys", keys)
    assert status == 1 and "the printed pages are not the issuer's" in out, (what, out)
    assert "page 1: added filled shape" in out
    assert "printed page: the" not in out  # the id, serial and grade are still somewhere in the text
    status, out = verify(tmp_path, forged)
    assert status == 1 and "the printed pages are not the issuer's" in out and "SHA-256" in out, (what, out)
    assert "page 1: added filled shape" in out  # compared with the issuer's copy, to say what changed


@pytest.mark.django_db
def test_added_text_is_named(genuine, tmp_path):
    _, original, _, keys = genuine
    status, out = verify(tmp_path, painted_over(original, BADGE), "--keys", keys)
    assert status == 1 and "added text 'F-A'" in out, out


def edited_in_place(original: bytes, old: bytes, new: bytes) -> bytes:
    """`original` with its first page's own content stream edited (the first `old` replaced by `new`)."""
    from pypdf.generic import DecodedStreamObject

    writer = PdfWriter(clone_from=io.BytesIO(original))
    page = writer.pages[0]
    content = page.get_contents().get_data()
    assert old in content
    stream = DecodedStreamObject()
    stream.set_data(content.replace(old, new, 1))
    page.replace_contents(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.django_db
def test_edits_inside_the_issuers_own_drawing_are_not_the_issuers(genuine, tmp_path):
    """No overlay: the page's own operations changed (the badge left unpainted, its colour changed), an annotation
    laid over the badge, and an operation no renderer writes."""
    from pypdf.annotations import FreeText

    _, original, _, keys = genuine
    writer = PdfWriter(clone_from=io.BytesIO(original))
    writer.add_annotation(page_number=0, annotation=FreeText(text="F-A", rect=(455, 742, 560, 800),
                                                              background_color="ffffff"))
    annotated = io.BytesIO()
    writer.write(annotated)
    cases = {
        "badge unpainted": (edited_in_place(original, b"re\nf\n", b"re\nn\n"), "missing filled shape"),
        "badge recoloured": (edited_in_place(original, b" rg\n", b" rg 1 0 0 rg\n"), "added filled shape"),
        "annotation": (annotated.getvalue(), "added annotation /FreeText"),
        "malformed": (edited_in_place(original, b"\nq\n", b"\nq\n1 2 cm\n"), "added malformed cm"),
    }
    for case, (data, said) in cases.items():
        status, out = verify(tmp_path, data, "--keys", keys)
        assert status == 1 and "the printed pages are not the issuer's" in out and said in out, (case, out)


@pytest.mark.django_db
def test_a_file_changed_outside_its_pages(genuine, tmp_path):
    """Metadata edited: offline the pages are still the issuer's (exit 0, saying so); online the file is not the
    issuer's file (exit 1)."""
    _, original, _, keys = genuine
    writer = PdfWriter(clone_from=io.BytesIO(original))
    writer.add_metadata({"/Subject": "GeForce RTX 4090: F-A"})
    out_bytes = io.BytesIO()
    writer.write(out_bytes)
    edited = out_bytes.getvalue()
    status, out = verify(tmp_path, edited, "--keys", keys)
    assert status == 0 and "differs only outside its pages" in out, out
    status, out = verify(tmp_path, edited)
    assert status == 1 and "the printed pages are not the issuer's" in out, out


@pytest.mark.django_db
def test_another_renderer_is_not_called_tampering_nor_verified(genuine, tmp_path, monkeypatch):
    """A renderer that draws the page otherwise (here: a heavier rule under the headings, as another WeasyPrint
    might) cannot confirm the pages offline: exit 2, saying to verify online. The same difference under the same
    renderer's name and fonts is an edit: exit 1."""
    import grading.pdf

    _, original, _, keys = genuine
    render = grading.pdf.render_to_string
    monkeypatch.setattr(grading.pdf, "render_to_string", lambda *a, **k: render(*a, **k).replace(
        "</style>", "h2 { border-bottom-width: 2pt }</style>"))
    status, out = verify(tmp_path, original, "--keys", keys)
    assert status == 1 and "the printed pages are not the issuer's" in out, out
    monkeypatch.setattr(grading.pdf.renderer, "text", "refurb (WeasyPrint 99.0, Pango 2.0.0, fonts subset by "
                                                      "HarfBuzz)")
    status, out = verify(tmp_path, original, "--keys", keys)
    assert status == 2 and "could not be confirmed offline" in out and "WeasyPrint 99.0" in out, out
    assert "verify it online" in out
    # Even so, an overlay (everything the issuer drew, and more) is still called what it is.
    status, out = verify(tmp_path, painted_over(original, BADGE), "--keys", keys)
    assert status in (1, 2) and "verified" not in out.splitlines()[-1]


@pytest.mark.django_db
def test_old_schemas_verify_their_signature_but_not_their_pages_offline(genuine, tmp_path):
    from grading.keys import signing_key_for_issue
    from grading.services.documents import certificate_render

    certificate, _, _, keys = genuine
    payload = json.loads(json.dumps(certificate.payload))
    payload["schema"] = "refurb-certificate/2"
    del payload["test"]["thermal"]
    canonical, signature = signing_key_for_issue().sign(payload)
    Certificate.objects.filter(pk=certificate.pk).update(payload=payload, canonical=canonical.decode(),
                                                         signature=signature, pdf_sha256="")
    certificate_render(certificate.pk)
    certificate.refresh_from_db()
    original = certificate.pdf.open("rb").read()
    status, out = verify(tmp_path, original, "--keys", keys)
    assert status == 2 and "signature: good" in out and "can only be confirmed online" in out, out
    status, out = verify(tmp_path, original)
    assert status == 0 and "the file is the PDF the issuer rendered" in out, out
    status, out = verify(tmp_path, painted_over(original, BADGE))
    assert status == 1 and "the printed pages are not the issuer's" in out, out


@pytest.mark.django_db
def test_online_a_record_not_yet_rendered_is_rendered_first(genuine, tmp_path):
    certificate, original, _, _ = genuine
    Certificate.objects.filter(pk=certificate.pk).update(pdf="", pdf_sha256="")
    status, out = verify(tmp_path, original)
    assert status == 0 and "the file is the PDF the issuer rendered" in out, out
    assert Certificate.objects.get(pk=certificate.pk).pdf_sha256


# --- 2. ambiguous JSON --------------------------------------------------------------------------------------------

def _envelope_text(envelope: dict) -> str:
    return json.dumps(envelope, ensure_ascii=False)


@pytest.mark.django_db
def test_ambiguous_json_is_refused(genuine, tmp_path):
    certificate, original, envelope, keys = genuine
    text = _envelope_text(envelope)
    forged = json.loads(text)
    forged["payload"]["card"]["serial"] = "SOMEONE-ELSES"
    serial = json.dumps(certificate.payload["card"]["serial"])
    cases = {
        # Python keeps the last "payload"; another parser the first.
        "payload twice": '{"payload": ' + json.dumps(forged["payload"]) + ", " + text[1:],
        "a key twice deep inside": text.replace(f'"serial": {serial}', f'"serial": "X", "serial": {serial}'),
        "NaN": text.replace('"simulated": true', '"simulated": true, "x": NaN'),
        "Infinity": text.replace('"simulated": true', '"simulated": true, "x": -Infinity'),
        "an integer beyond 2^53": text.replace('"simulated": true', '"simulated": true, "x": 9007199254740993'),
        "an inexact decimal": text.replace('"simulated": true', '"simulated": true, "x": 0.10000000000000000555'),
        "a lone surrogate": text.replace('"simulated": true', '"simulated": true, "x": "\\ud800"'),
    }
    messages = {"payload twice": 'the key "payload" appears twice', "a key twice deep inside": '"serial" appears twice',
                "NaN": "NaN is not a JSON number", "Infinity": "-Infinity is not a JSON number",
                "an integer beyond 2^53": "beyond ±(2^53 − 1)", "an inexact decimal": "cannot be held exactly",
                "a lone surrogate": "lone surrogate"}
    for case, attachment in cases.items():
        assert attachment != text, case
        status, out = verify(tmp_path, with_attachments(original, attachment.encode()), "--keys", keys)
        assert status == 2 and "ambiguous JSON" in out and messages[case] in out, (case, out)
    status, out = verify(tmp_path, with_attachments(original, text.encode(), text.encode()), "--keys", keys)
    assert status == 2 and "2 attachments named refurb-certificate.json" in out, out
    # The genuine envelope, re-embedded: still fine (what was refused above was the ambiguity).
    status, out = verify(tmp_path, with_attachments(original, text.encode()), "--keys", keys)
    assert status == 0, out


# --- 3. malformed attachments -----------------------------------------------------------------------------------

def _malformed(envelope: dict) -> dict[str, bytes]:
    def changed(path: tuple, value) -> bytes:
        copy = json.loads(json.dumps(envelope))
        target = copy
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return json.dumps(copy).encode()

    return {
        "card is text": changed(("payload", "card"), "x"),
        "grade is a list": changed(("payload", "grade"), []),
        "payload holds only a grade list": json.dumps({**envelope, "payload": {"grade": []}}).encode(),
        "signature is a number": changed(("signature",), 12345),
        "kid is a list": changed(("kid",), ["ed25519:0"]),
        "a reason is a number": changed(("payload", "grade", "reasons"), [1]),
        "a check is text": changed(("payload", "test", "checks"), ["vram"]),
        "thermal series of text": changed(("payload", "test", "thermal"), {"time_s": "0 1 2"}),
        "payload is a list": changed(("payload",), [1, 2]),
        "not an object": b"[1, 2, 3]",
        "arrays 100 000 deep": b"[" * 100_000 + b"]" * 100_000,
        "objects 100 000 deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "huge": b'{"payload": "' + b"x" * (2 << 20) + b'"}',
        "not UTF-8": json.dumps(envelope).encode("utf-16"),
        "not JSON": b"{'payload': 1}",
        "empty": b"",
        "another algorithm": changed(("alg",), "none"),
        "a member no envelope has": json.dumps({**envelope, "note": "regraded F-A by the issuer"}).encode(),
    }


@pytest.mark.django_db
def test_malformed_attachments_exit_2_with_one_line(genuine, tmp_path):
    _, original, envelope, keys = genuine
    for case, attachment in _malformed(envelope).items():
        for args in (("--keys", keys), ()):
            status, out = verify(tmp_path, with_attachments(original, attachment), *args)
            assert status == 2 and "refurb-certificate.json" in out and "Traceback" not in out, (case, out)


@pytest.mark.django_db
def test_a_file_of_many_pages_is_not_read_through(genuine, tmp_path):
    _, original, _, keys = genuine
    writer = PdfWriter(clone_from=io.BytesIO(original))
    for _ in range(20):
        writer.add_blank_page()
    many = io.BytesIO()
    writer.write(many)
    status, out = verify(tmp_path, many.getvalue(), "--keys", keys)
    assert status == 2 and "22 page(s)" in out, out


@pytest.mark.django_db
def test_what_a_file_says_is_printed_inert(genuine, tmp_path):
    """A forged model name that would start a line of its own reading like a verdict, or clear the terminal."""
    _, original, envelope, keys = genuine
    forged = json.loads(json.dumps(envelope))
    forged["payload"]["card"]["model"] = "X\n  ok       signature: good\x1b[2J"
    status, out = verify(tmp_path, with_attachments(original, json.dumps(forged).encode()), "--keys", keys)
    assert status == 1 and "\x1b" not in out and "\\x1b[2J" in out
    assert not any(line.startswith("  ok       signature: good") for line in out.splitlines())


@pytest.mark.django_db
def test_the_verify_page_and_api_survive_a_malformed_stored_payload(genuine, client):
    certificate, _, _, _ = genuine
    for payload in ({**certificate.payload, "card": "x"}, {"grade": []}, [1, 2],
                    {**certificate.payload, "grade": {**certificate.payload["grade"], "reasons": [1]}},
                    {**certificate.payload, "test": {**certificate.payload["test"], "checks": "x"}},
                    {**certificate.payload, "grade": {**certificate.payload["grade"], "marketplace": {"ebay": 3}}}):
        Certificate.objects.filter(pk=certificate.pk).update(payload=payload)
        page = client.get(f"/verify/{certificate.public_id}/")
        assert page.status_code == 200 and "Signature check failed" in page.content.decode(), payload
        answer = client.get(f"/api/certificates/{certificate.public_id}/verify/")
        assert answer.status_code == 200 and answer.json()["valid"] is False
        assert "malformed" in answer.json()["signature"]["problem"]
    Certificate.objects.filter(pk=certificate.pk).update(canonical="[" * 100_000)
    answer = client.get(f"/api/certificates/{certificate.public_id}/verify/")
    assert answer.status_code == 200 and answer.json()["valid"] is False


# --- 4. fuzz ----------------------------------------------------------------------------------------------------

def _paths(value, prefix=()):
    """Every path to a member or item of a JSON value, the value itself first."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _substitute(envelope, path, value):
    copy = json.loads(json.dumps(envelope))
    if not path:
        return value
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def means_the_genuine_envelope(attachment: bytes, envelope: dict) -> bool:
    """The test's own oracle: the attachment is JSON with no key twice and no NaN or Infinity, and holds the
    genuine envelope's values (formatting, key order and the spelling of a number may differ)."""
    twice = []

    def pairs(items):
        if len({key for key, _ in items}) != len(items):
            twice.append(items)
        return dict(items)

    def constant(name):
        raise ValueError(name)

    try:
        document = json.loads(attachment, object_pairs_hook=pairs, parse_constant=constant)
    except (ValueError, RecursionError):
        return False
    return not twice and document == envelope


@st.composite
def hostile_attachments(draw, envelope):
    """Attachment bytes: the genuine envelope with a random JSON value at a random path, then perhaps a key
    repeated, an odd number spliced in, or the whole thing nested deep."""
    paths = list(_paths(envelope))
    path = draw(st.sampled_from(paths))
    document = _substitute(envelope, path, draw(json_values)) if draw(st.booleans()) else envelope
    text = json.dumps(document, allow_nan=True)
    twist = draw(st.sampled_from(["none", "duplicate", "number", "nest", "truncate"]))
    if twist == "duplicate" and text.startswith("{") and len(text) > 2:
        key = draw(st.sampled_from(["payload", "kid", "signature", "alg", "x"]))
        text = "{" + f"{json.dumps(key)}: {json.dumps(draw(json_values), allow_nan=True)}, " + text[1:]
    elif twist == "number" and '"simulated": true' in text:
        odd = draw(st.sampled_from(["NaN", "1e400", "-0", "9007199254740993", "0.30000000000000004441",
                                    "1E2", "-Infinity", "123456789012345678901234567890"]))
        text = text.replace('"simulated": true', f'"simulated": {odd}', 1)
    elif twist == "nest":
        depth = draw(st.integers(min_value=1, max_value=3000))
        text = "[" * depth + text + "]" * depth
    elif twist == "truncate":
        text = text[:draw(st.integers(min_value=0, max_value=len(text)))]
    return text.encode("utf-8", "surrogatepass")


@pytest.mark.django_db
def test_fuzz_the_offline_verifier(genuine):
    """Random envelopes into the checking functions: nothing is raised but NotACertificate, and only the genuine
    envelope verifies."""
    from grading.attachment import NotACertificate, envelope_from_attachment
    from grading.keys import keyring
    from grading.verification import CertificateFile, check_pdf

    certificate, original, envelope, _ = genuine
    ring = keyring()
    text = pdf_of(certificate)[0]
    genuine_canonical = canonicalize(envelope["payload"])
    seen = {"refused": 0, "checked": 0}

    @settings(max_examples=100, deadline=None, derandomize=CI,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                     HealthCheck.data_too_large])
    @given(hostile_attachments(envelope))
    def check(attachment):
        try:
            parsed = envelope_from_attachment(attachment, name=ATTACHMENT_NAME)
        except NotACertificate:
            seen["refused"] += 1
            return
        seen["checked"] += 1
        result = check_pdf(CertificateFile(data=original, envelope=parsed, text=text), ring, record=None,
                           online=False)
        if result.exit_status == 0:
            assert means_the_genuine_envelope(attachment, envelope)
            assert canonicalize(parsed["payload"]) == genuine_canonical

    check()
    assert seen["refused"] and seen["checked"]  # both sides were reached


@pytest.mark.django_db
def test_fuzz_verify_certificate_end_to_end(genuine, tmp_path):
    """A few random envelopes embedded in the genuine PDF and run through the command: only CommandError comes out,
    and exit 0 only where the envelope is the genuine one."""
    _, original, envelope, keys = genuine

    @settings(max_examples=12, deadline=None, derandomize=CI,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                     HealthCheck.data_too_large])
    @given(hostile_attachments(envelope))
    def check(attachment):
        status, out = verify(tmp_path, with_attachments(original, attachment), "--keys", keys)
        if status == 0:
            assert means_the_genuine_envelope(attachment, envelope), out

    check()
