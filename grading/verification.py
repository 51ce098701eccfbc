"""Verification: what a buyer sees when they check a certificate, online (the record and its signature) or from a
PDF file (its embedded payload against the published keys, and against the record where there is one)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

from .attachment import AmbiguousJson, NotACertificate, envelope_from_attachment, payload_shape_problem
from .models import Certificate, CertificateStatus
from .payload import printed_form
from .policy import condition_label
from .signing import SigningError, canonicalize, verify_signature, verify_signed_bytes

__all__ = ["AmbiguousJson", "NotACertificate", "PdfCheck", "certificate_file_read", "check_pdf",
           "record_signature_problem", "verification_report"]

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
    except (ValueError, RecursionError):
        return "the stored signed bytes are not JSON"
    if signed != certificate.payload:
        return "the stored payload differs from the bytes that were signed"
    return verify_signed_bytes(certificate.canonical.encode("utf-8"), certificate.signature, certificate.key_id,
                               keyring)


NO_FACTS = {"model": "", "board_vendor": None, "serial": None, "vram_gib": None, "simulated": None,
            "functional_grade": None, "cosmetic_grade": None, "overridden": False, "policy_version": None,
            "plan": None, "tested_at": None, "ebay_condition": None, "reasons": [], "checks": []}


def _facts(payload: dict) -> dict:
    card, test, grade = payload["card"], payload["test"], payload["grade"]
    return {
        "model": f"{card['gpu_vendor']} {card['model']}".strip(),
        "board_vendor": card["board_vendor"], "serial": card["serial"],
        "vram_gib": card["vram_gib"], "simulated": card["simulated"],
        "functional_grade": grade["functional"], "cosmetic_grade": grade["cosmetic"],
        "overridden": bool(grade["override"]), "policy_version": grade["policy_version"],
        "plan": test["plan"], "tested_at": test["finished_at"],
        "ebay_condition": condition_label(grade["marketplace"].get("ebay")) or None,
        "reasons": [r["sentence"] for r in grade["reasons"]],
        "checks": [{"name": c["name"], "status": c["status"], "summary": c["summary"]} for c in test["checks"]],
    }


def verification_report(certificate: Certificate, keyring: dict, *, public_url) -> dict:
    """The verify page's and endpoint's facts. `public_url(public_id)` gives a certificate's verify URL. A stored
    payload without the members a certificate has (a record changed in the database) fails its signature check
    and shows no facts, rather than failing the page."""
    payload = certificate.payload
    malformed = payload_shape_problem(payload)
    problem = f"the stored payload is malformed: {malformed}" if malformed else \
        record_signature_problem(certificate, keyring)
    newer = (Certificate.objects.only("public_id").get(pk=certificate.superseded_by_id)
             if certificate.superseded_by_id else None)
    top = payload if isinstance(payload, dict) else {}
    return {
        "id": certificate.public_id,
        "printed_id": certificate.printed_id,
        "status": certificate.status,
        "valid": certificate.status == CertificateStatus.VALID and not problem,
        "status_sentence": STATUS_SENTENCES[certificate.status],
        "status_reason": certificate.status_reason,
        "status_changed_at": certificate.status_changed_at,
        "superseded_by": ({"id": newer.public_id, "url": public_url(newer.public_id)} if newer else None),
        "issued_at": top.get("issued_at") if isinstance(top.get("issued_at"), str) else None,
        "issuer": top.get("issuer") if isinstance(top.get("issuer"), str) else None,
        "signature": {"valid": not problem, "algorithm": "Ed25519", "key_id": certificate.key_id,
                      "problem": problem or None, "value": certificate.signature},
        "facts": NO_FACTS if malformed else _facts(payload),
        "payload": payload if isinstance(payload, dict) else {},
    }


# --- a PDF file ------------------------------------------------------------------------------------------------

MAX_PDF_BYTES = 16 << 20  # a certificate is some 100 KB


@dataclass
class CertificateFile:
    """A certificate PDF as read: its bytes, the envelope in its attachment (read strictly, of the right shape) and
    its pages' text."""

    data: bytes
    envelope: dict
    text: str

    @property
    def payload(self) -> dict:
        return self.envelope["payload"]


def certificate_file_read(data: bytes, attachment_name: str) -> CertificateFile:
    """Read a certificate PDF. Raises NotACertificate (AmbiguousJson for an attachment that parsers may read
    differently) naming what was wrong: nothing in a hostile file gets further than that."""
    from pypdf import PdfReader

    if len(data) > MAX_PDF_BYTES:
        raise NotACertificate(f"{len(data):,} bytes is more than a certificate PDF ever is ({MAX_PDF_BYTES:,})")
    try:
        reader = PdfReader(io.BytesIO(data))
        contents = reader.attachments.get(attachment_name)
    except Exception as exc:  # pypdf raises many kinds on a hostile file; each one means "unreadable"
        raise NotACertificate(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not contents:
        raise NotACertificate(f"the PDF has no {attachment_name} attachment: not a refurb certificate")
    if len(contents) > 1:
        raise AmbiguousJson(f"the PDF carries {len(contents)} attachments named {attachment_name}: which one is "
                            "the certificate is ambiguous")
    envelope = envelope_from_attachment(contents[0], name=attachment_name)
    try:
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as exc:  # as above: pypdf on a hostile file
        raise NotACertificate(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    return CertificateFile(data=data, envelope=envelope, text=text)


@dataclass
class PdfCheck:
    """What verify_certificate found: the envelope, problems (tampering, a wrong key, revocation: exit 1) and
    notes."""

    envelope: dict | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.envelope is not None and not self.problems

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1


def _squash(text: str) -> str:
    return "".join(str(text).split()).lower()


def _printed_facts(result: PdfCheck, file: CertificateFile) -> None:
    """The printed page must say what the signed payload says: a PDF whose text was edited fails here."""
    payload = file.payload
    squashed = _squash(file.text)
    printed_id = printed_form(payload["id"])
    # The grade is looked for in its own row ("Functional F-B (policy …)"): three letters such as "F-A" can also
    # stand astride two groups of the printed id.
    functional = payload["grade"]["functional"]
    for label, value, printed in (("certificate id", printed_id, printed_id),
                                  ("serial", payload["card"]["serial"], payload["card"]["serial"]),
                                  ("functional grade", functional, f"Functional {functional}")):
        if value and _squash(printed) not in squashed:
            result.problems.append(f"printed page: the {label} {value} from the signed payload is not on the page")


def check_pdf(file: CertificateFile, keyring: dict, *, record: Certificate | None, online: bool) -> PdfCheck:
    """Check a certificate PDF read by certificate_file_read: the embedded payload's signature against `keyring`,
    that the printed page shows the signed id, serial and grade, and — where `record` is the issuer's record of
    it — the payload against the record and its status. `online`: the issuer's records were searched, so no record
    is a problem."""
    envelope = file.envelope
    result = PdfCheck(envelope=envelope)
    payload = envelope["payload"]
    problem = verify_signature(payload, envelope["signature"], envelope["kid"], keyring)
    if problem:
        result.problems.append(f"signature: {problem}")
    else:
        result.notes.append(f"signature: good (Ed25519, key {envelope['kid']})")
    _printed_facts(result, file)
    if record is None:
        if online:
            result.problems.append(f"record: this issuer has no certificate {payload['id']}")
        else:
            result.notes.append("record: not compared (offline)")
        return result
    try:
        canonical = canonicalize(payload).decode("utf-8")
    except SigningError:
        canonical = None
    if record.canonical != canonical:
        result.problems.append("record: the embedded payload differs from the issuer's record of this certificate")
    if record.signature != envelope["signature"] or record.key_id != envelope["kid"]:
        result.problems.append("record: the embedded signature differs from the issuer's record")
    if record.status != CertificateStatus.VALID:
        newer = f"; see {record.superseded_by.public_id}" if record.superseded_by_id else ""
        reason = f": {record.status_reason}" if record.status_reason else ""
        result.problems.append(f"status: {record.status}{reason}{newer}")
    else:
        result.notes.append("record: matches the issuer's record; status valid")
    return result
