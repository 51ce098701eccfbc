"""Verification: what a buyer sees when they check a certificate, online (the record and its signature) or from a
PDF file (its embedded payload against the published keys, its printed pages against the issuer's, and against the
record where there is one)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field

from .attachment import AmbiguousJson, NotACertificate, envelope_from_attachment, payload_shape_problem
from .models import Certificate, CertificateStatus
from .pages import MAX_CONTENT_BYTES, MAX_PAGES, PagesUnreadable, compare, content_bytes, drawing
from .payload import printed_form, schema_version
from .policy import condition_label
from .signing import SigningError, canonicalize, verify_signature, verify_signed_bytes

__all__ = ["AmbiguousJson", "NotACertificate", "PdfCheck", "certificate_file_read", "check_pdf",
           "record_signature_problem", "verification_report"]

STATUS_SENTENCES = {
    CertificateStatus.VALID: "This certificate is valid.",
    CertificateStatus.REVOKED: "This certificate was revoked.",
    # Superseded as soon as the card goes back for a retest (inventory.lifecycle), before any newer certificate.
    CertificateStatus.SUPERSEDED: "This certificate was superseded: the card went back for work or a new test.",
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
    try:
        facts, malformed = _facts(payload), ""
    except (KeyError, IndexError, TypeError, AttributeError):
        # Its shape is asked for only when it cannot be read: walking every payload would cost the page its time.
        facts, malformed = NO_FACTS, payload_shape_problem(payload) or "a member of a wrong type"
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
        "facts": facts,
        "payload": payload if isinstance(payload, dict) else {},
    }


# --- a PDF file ------------------------------------------------------------------------------------------------

MAX_PDF_BYTES = 16 << 20  # a certificate is some 100 KB
PAGES = "printed pages"
NOT_THE_ISSUERS = "the printed pages are not the issuer's"


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
        drawn = [content_bytes(c) if (c := page.get_contents()) is not None else 0 for page in reader.pages]
    except Exception as exc:  # pypdf raises many kinds on a hostile file; each one means "unreadable"
        raise NotACertificate(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not contents:
        raise NotACertificate(f"the PDF has no {attachment_name} attachment: not a refurb certificate")
    if len(contents) > 1:
        raise AmbiguousJson(f"the PDF carries {len(contents)} attachments named {attachment_name}: which one is "
                            "the certificate is ambiguous")
    # Bounded before the text is extracted, which is slow on a page that draws a great deal.
    if len(drawn) > MAX_PAGES or max(drawn, default=0) > MAX_CONTENT_BYTES:
        raise NotACertificate(f"the PDF has {len(drawn)} page(s), drawing up to {max(drawn, default=0):,} bytes "
                              f"each: more than a certificate ever has ({MAX_PAGES} pages, {MAX_CONTENT_BYTES:,} "
                              "bytes)")
    envelope = envelope_from_attachment(contents[0], name=attachment_name)
    try:
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as exc:  # as above
        raise NotACertificate(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    return CertificateFile(data=data, envelope=envelope, text=text)


@dataclass
class PdfCheck:
    """What verify_certificate found: the envelope; problems (tampering, a wrong key, revocation: exit 1); what
    could not be confirmed here (exit 2); and notes."""

    envelope: dict | None = None
    problems: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.envelope is not None and not self.problems and not self.unconfirmed

    @property
    def exit_status(self) -> int:
        return 1 if self.problems or self.envelope is None else 2 if self.unconfirmed else 0


def _squash(text: str) -> str:
    return "".join(str(text).split()).lower()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _printed_facts(result: PdfCheck, file: CertificateFile) -> None:
    """The printed page must say what the signed payload says: a PDF whose text was edited fails here. (A cheap
    check that names the fact; the pages' comparison is what proves them.)"""
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


def _pages_against_record(result: PdfCheck, file: CertificateFile, record: Certificate) -> None:
    """Online: the file must be the very PDF the issuer rendered (its SHA-256). Where it is not, the pages are
    compared with the issuer's to say what differs."""
    if not record.pdf_sha256:
        result.unconfirmed.append(f"{PAGES}: the issuer has no rendering of this certificate to compare with yet")
        return
    digest = _sha256(file.data)
    if digest == record.pdf_sha256:
        result.notes.append(f"{PAGES}: the file is the PDF the issuer rendered (SHA-256 {digest[:16]}…)")
        return
    detail = [f"its SHA-256 {digest[:16]}… is not that of the PDF the issuer rendered ({record.pdf_sha256[:16]}…)"]
    try:
        with record.pdf.open("rb") as handle:
            issued = handle.read()
        detail += _page_differences(file.data, issued)
    except (OSError, ValueError):
        pass  # the issuer's copy is not at hand: the hashes say enough
    result.problems.append(f"{PAGES}: {NOT_THE_ISSUERS}: {'; '.join(detail)}")


def _page_differences(data: bytes, issued: bytes) -> list[str]:
    try:
        comparison = compare(drawing(data), drawing(issued))
    except PagesUnreadable as exc:
        return [f"its pages cannot be read ({exc})"]
    if comparison.same:
        return ["its pages draw the same; the file differs elsewhere (metadata or the attachment's formatting)"]
    return comparison.differences


def _pages_offline(result: PdfCheck, file: CertificateFile) -> None:
    """Offline: draw the certificate again from its signed payload and compare. Byte for byte first; else what
    each page paints. A difference made by another renderer (WeasyPrint, Pango, fonts) cannot be told from an edit
    unless it only adds to the issuer's pages, so it is reported as unconfirmed, never as verified."""
    from .pdf import SignedCertificate, certificate_pdf  # here: the verify page never draws a PDF

    version = schema_version(file.payload)
    if version < 3:
        result.unconfirmed.append(
            f"{PAGES}: a certificate of payload schema {version} cannot be drawn again offline (its thermal chart "
            "came from data the payload does not carry), so its printed pages can only be confirmed online: run "
            "verify_certificate without --keys, or compare the file with the PDF on the verify page")
        return
    envelope = file.envelope
    try:
        fresh = certificate_pdf(SignedCertificate(payload=file.payload, signature=envelope["signature"],
                                                  key_id=envelope["kid"]))
    except Exception as exc:  # a signed payload this version cannot draw: say so rather than fail
        result.unconfirmed.append(f"{PAGES}: could not be drawn again here ({type(exc).__name__}: {exc}); verify "
                                  "online")
        return
    if _sha256(fresh) == _sha256(file.data):
        result.notes.append(f"{PAGES}: identical, byte for byte, to the certificate drawn again from its signed "
                            "payload")
        return
    try:
        mine, theirs = drawing(file.data), drawing(fresh)
    except PagesUnreadable as exc:
        result.unconfirmed.append(f"{PAGES}: could not be read to compare them ({exc}); verify online")
        return
    comparison = compare(mine, theirs)
    if comparison.same:
        result.notes.append(f"{PAGES}: draw exactly what the certificate drawn again from its signed payload draws "
                            "(the file differs only outside its pages: metadata, or the attachment's formatting)")
    elif comparison.only_added or comparison.same_renderer:
        result.problems.append(f"{PAGES}: {NOT_THE_ISSUERS}: {'; '.join(comparison.differences)}")
    else:
        why = (f"the file was made by {mine.renderer}, this machine draws with {theirs.renderer}"
               if not comparison.same_names else
               "its embedded fonts differ from this machine's (another version of the fonts, or another subsetter)")
        result.unconfirmed.append(
            f"{PAGES}: could not be confirmed offline: {why}, and the pages differ "
            f"({'; '.join(comparison.differences[:3])}); verify it online (verify_certificate without --keys, or "
            "the verify page) to check them")


def check_pdf(file: CertificateFile, keyring: dict, *, record: Certificate | None, online: bool) -> PdfCheck:
    """Check a certificate PDF read by certificate_file_read: the embedded payload's signature against `keyring`;
    its printed pages (online: the file is the issuer's PDF of the record; offline: drawn again from the signed
    payload, they match); that the printed page shows the signed id, serial and grade; and — where `record` is the
    issuer's record of it — the payload against the record and its status. `online`: the issuer's records were
    searched, so no record is a problem."""
    envelope = file.envelope
    result = PdfCheck(envelope=envelope)
    payload = envelope["payload"]
    problem = verify_signature(payload, envelope["signature"], envelope["kid"], keyring)
    if problem:
        result.problems.append(f"signature: {problem}")
    else:
        result.notes.append(f"signature: good (Ed25519, key {envelope['kid']})")
    if online:
        if record is not None:
            _pages_against_record(result, file, record)
    elif problem:
        result.notes.append(f"{PAGES}: not drawn again (the payload is not the one the issuer signed)")
    else:
        _pages_offline(result, file)
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
