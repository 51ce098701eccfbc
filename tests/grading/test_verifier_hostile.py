"""What a verifier must not accept (issue 11): ambiguous JSON, malformed attachments — through verify_certificate
offline (--keys) and online, the verify page and API — and a fuzz of the offline verifier over envelope shapes."""

import io
import json
import os
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

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
    }


@pytest.mark.django_db
def test_malformed_attachments_exit_2_with_one_line(genuine, tmp_path):
    _, original, envelope, keys = genuine
    for case, attachment in _malformed(envelope).items():
        for args in (("--keys", keys), ()):
            status, out = verify(tmp_path, with_attachments(original, attachment), *args)
            assert status == 2 and "refurb-certificate.json" in out and "Traceback" not in out, (case, out)


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

    @settings(max_examples=150, deadline=None, derandomize=CI,
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
            assert canonicalize(parsed["payload"]) == genuine_canonical
            assert (parsed["signature"], parsed["kid"]) == (envelope["signature"], envelope["kid"])

    check()
    assert seen["refused"] and seen["checked"]  # both sides were reached


@pytest.mark.django_db
def test_fuzz_verify_certificate_end_to_end(genuine, tmp_path):
    """A few random envelopes embedded in the genuine PDF and run through the command: only CommandError comes out,
    and exit 0 only where the envelope is the genuine one."""
    _, original, envelope, keys = genuine
    genuine_canonical = canonicalize(envelope["payload"])

    @settings(max_examples=12, deadline=None, derandomize=CI,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                     HealthCheck.data_too_large])
    @given(hostile_attachments(envelope))
    def check(attachment):
        status, out = verify(tmp_path, with_attachments(original, attachment), "--keys", keys)
        if status == 0:
            document = json.loads(attachment)
            assert canonicalize(document["payload"]) == genuine_canonical, out

    check()
