"""Verification: what a buyer sees when they check a certificate, online (the record and its signature) or offline
(a PDF's embedded payload against the published keys, and against the record where there is one)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

from .models import Certificate, CertificateStatus
from .policy import condition_label
from .signing import canonicalize, verify_signature, verify_signed_bytes

STATUS_SENTENCES = {
    CertificateStatus.VALID: "This certificate is valid.",
    CertificateStatus.REVOKED: "This certificate was revoked.",
    CertificateStatus.SUPERSEDED: "This certificate was superseded: the card was tested and graded again.",
}


def record_signature_problem(certificate: Certificate, keyring: dict) -> str:
    """"" if the stored signature is good for the stored canonical bytes and the stored payload is what those bytes
    say, else what is wrong. (Parsing the signed bytes and comparing is a fraction of the cost of canonicalizing the
    payload again, which matters on the public page.)"""
    try:
        signed = json.loads(certificate.canonical)
    except ValueError:
        return "the stored signed bytes are not JSON"
    if signed != certificate.payload:
        return "the stored payload differs from the bytes that were signed"
    return verify_signed_bytes(certificate.canonical.encode("utf-8"), certificate.signature, certificate.key_id,
                               keyring)


def verification_report(certificate: Certificate, keyring: dict, *, public_url) -> dict:
    """The verify page's and endpoint's facts. `public_url(public_id)` gives a certificate's verify URL."""
    payload = certificate.payload
    problem = record_signature_problem(certificate, keyring)
    newer = (Certificate.objects.only("public_id").get(pk=certificate.superseded_by_id)
             if certificate.superseded_by_id else None)
    card, test, grade = payload.get("card", {}), payload.get("test", {}), payload.get("grade", {})
    return {
        "id": certificate.public_id,
        "printed_id": certificate.printed_id,
        "status": certificate.status,
        "valid": certificate.status == CertificateStatus.VALID and not problem,
        "status_sentence": STATUS_SENTENCES[certificate.status],
        "status_reason": certificate.status_reason,
        "status_changed_at": certificate.status_changed_at,
        "superseded_by": ({"id": newer.public_id, "url": public_url(newer.public_id)} if newer else None),
        "issued_at": payload.get("issued_at"),
        "issuer": payload.get("issuer"),
        "signature": {"valid": not problem, "algorithm": "Ed25519", "key_id": certificate.key_id,
                      "problem": problem or None, "value": certificate.signature},
        "facts": {
            "model": f"{card.get('gpu_vendor', '')} {card.get('model', '')}".strip(),
            "board_vendor": card.get("board_vendor"), "serial": card.get("serial"),
            "vram_gib": card.get("vram_gib"), "simulated": card.get("simulated"),
            "functional_grade": grade.get("functional"), "cosmetic_grade": grade.get("cosmetic"),
            "overridden": bool(grade.get("override")), "policy_version": grade.get("policy_version"),
            "plan": test.get("plan"), "tested_at": test.get("finished_at"),
            "ebay_condition": condition_label((grade.get("marketplace") or {}).get("ebay")) or None,
            "reasons": [r.get("sentence") for r in grade.get("reasons") or []],
            "checks": [{"name": c.get("name"), "status": c.get("status"), "summary": c.get("summary")}
                       for c in test.get("checks") or []],
        },
        "payload": payload,
    }


# --- offline: a PDF file --------------------------------------------------------------------------------------

@dataclass
class PdfCheck:
    """What verify_certificate found: the envelope, problems (tampering: exit 1) and notes."""

    envelope: dict | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.envelope is not None and not self.problems


class NotACertificate(ValueError):
    """The file is not a readable PDF, or carries no refurb certificate attachment."""


def pdf_envelope_and_text(data: bytes, attachment_name: str) -> tuple[dict, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        attachments = reader.attachments
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise NotACertificate(f"not a readable PDF ({exc})") from exc
    contents = attachments.get(attachment_name)
    if not contents:
        raise NotACertificate(f"the PDF has no {attachment_name} attachment: not a refurb certificate")
    try:
        document = json.loads(contents[0])
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotACertificate(f"the {attachment_name} attachment is not JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        raise NotACertificate(f"the {attachment_name} attachment has no payload object")
    return document, text


def _squash(text: str) -> str:
    return "".join(str(text).split()).lower()


def check_pdf(envelope: dict, text: str, keyring: dict, *, record: Certificate | None, lookup_done: bool) -> PdfCheck:
    """Check a certificate PDF, read by pdf_envelope_and_text: the embedded payload's signature against `keyring`,
    the printed facts against the payload, and — where `record` is the issuer's record of it — the payload against
    the record and its status. `lookup_done`: the issuer's records were searched (online), so no record is a
    problem."""
    result = PdfCheck(envelope=envelope)
    payload = envelope["payload"]
    problem = verify_signature(payload, str(envelope.get("signature", "")), str(envelope.get("kid", "")), keyring)
    if problem:
        result.problems.append(f"signature: {problem}")
    else:
        result.notes.append(f"signature: good (Ed25519, key {envelope.get('kid')})")
    # The printed page must say what the signed payload says: a PDF whose text was edited fails here.
    squashed = _squash(text)
    card, grade = payload.get("card", {}), payload.get("grade", {})
    printed_id = "-".join(str(payload.get("id", ""))[i:i + 4] for i in range(0, len(str(payload.get("id", ""))), 4))
    # The grade is looked for in its own row ("Functional F-B (policy …)"): three letters such as "F-A" can also
    # stand astride two groups of the printed id.
    functional = grade.get("functional")
    for label, value, printed in (("certificate id", printed_id, printed_id),
                                  ("serial", card.get("serial"), card.get("serial")),
                                  ("functional grade", functional, f"Functional {functional}")):
        if value and _squash(printed) not in squashed:
            result.problems.append(f"printed page: the {label} {value} from the signed payload is not on the page")
    if record is None:
        if lookup_done:
            result.problems.append(f"record: this issuer has no certificate {payload.get('id')}")
        else:
            result.notes.append("record: not compared (offline)")
        return result
    if record.canonical != canonicalize(payload).decode("utf-8"):
        result.problems.append("record: the embedded payload differs from the issuer's record of this certificate")
    if record.signature != envelope.get("signature") or record.key_id != envelope.get("kid"):
        result.problems.append("record: the embedded signature differs from the issuer's record")
    if record.status != CertificateStatus.VALID:
        newer = f"; see {record.superseded_by.public_id}" if record.superseded_by_id else ""
        reason = f": {record.status_reason}" if record.status_reason else ""
        result.problems.append(f"status: {record.status}{reason}{newer}")
    else:
        result.notes.append("record: matches the issuer's record; status valid")
    return result
