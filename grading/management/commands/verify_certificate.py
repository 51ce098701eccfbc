"""python manage.py verify_certificate FILE.pdf [--keys keys.json]: check a certificate PDF.

It reads the signed payload embedded in the PDF (strictly: one meaning, bounded size and nesting, the members a
certificate has), checks its Ed25519 signature against the published keys (this issuer's, or a keys.json such as
/.well-known/refurb-keys.json saved to a file), and checks that the printed pages are the issuer's:

- online (no --keys): the file must be, byte for byte, the PDF the issuer rendered for that record (its SHA-256;
  rendered first if the record has none yet); then the payload, signature and status are compared with the record;
- offline (--keys): a certificate of payload schema 3 is drawn again from its signed payload and the pages compared
  (byte for byte, else what each page paints and where). Pages drawn by another renderer that differ cannot be
  confirmed offline; older schemas cannot be drawn again offline at all. Either way: verify online.

It also looks for the signed id, serial and grade on the page.

Exit status: 0 genuine (and, online, valid); 1 tampered, a wrong key, revoked, superseded or unknown to the issuer;
2 unreadable input, not a certificate (an ambiguous or malformed attachment included), or printed pages that could
not be confirmed offline.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from grading.attachment import NotACertificate, strict_json
from grading.keys import keyring
from grading.models import Certificate
from grading.pdf import ATTACHMENT_NAME
from grading.services import public_id_normalize
from grading.services.documents import certificate_render
from grading.signing import SigningError, keyring_from_document
from grading.verification import MAX_PDF_BYTES, PdfCheck, certificate_file_read, check_pdf


def printable(text) -> str:
    """`text` with control and format characters escaped: what a file says must not move the cursor, clear the
    terminal or start a line of its own that reads like a verdict."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


class Command(BaseCommand):
    help = ("Check a certificate PDF: its signature, that its printed pages are the issuer's (online: the issuer's "
            "file; with --keys: drawn again from the signed payload), and online the issuer's record and status. "
            "Exit 0 verified, 1 not genuine or not valid, 2 not a certificate or not confirmable offline.")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.pdf")
        parser.add_argument("--keys", metavar="keys.json",
                            help="published keys to check against, offline (a saved /.well-known/refurb-keys.json); "
                                 "printed pages of certificates older than payload schema 3 are then not confirmed")

    def handle(self, *args, file: str, keys: str | None, **options):
        data = self._read(file, limit=MAX_PDF_BYTES)
        if keys:
            try:
                ring = keyring_from_document(strict_json(self._read(keys, limit=1 << 20), what=keys))
            except (NotACertificate, SigningError) as exc:
                raise CommandError(f"{keys} is not a key document: {printable(exc)}", returncode=2) from None
        try:
            certificate = certificate_file_read(data, ATTACHMENT_NAME)
        except NotACertificate as exc:
            raise CommandError(f"{file}: {printable(exc)}", returncode=2) from None
        payload = certificate.payload
        record = None
        if not keys:
            ring = keyring(needs=certificate.envelope["kid"])
            if public_id_normalize(payload["id"]) == payload["id"]:  # anything else names no record
                record = Certificate.objects.filter(public_id=payload["id"]).first()
            if record is not None and not record.pdf_sha256:
                try:
                    record = certificate_render(record.pk)  # what the task does on issue, if it has not run yet
                except Exception as exc:  # the issuer's own rendering failing is no verdict on the file
                    raise CommandError(f"cannot render the issuer's PDF of {record.printed_id} to compare with: "
                                       f"{type(exc).__name__}: {exc}", returncode=2) from None
        result = check_pdf(certificate, ring, record=record, online=not keys)
        self._report(file, payload, result)

    def _read(self, name: str, *, limit: int) -> bytes:
        path = Path(name)
        try:
            if path.stat().st_size > limit:
                raise CommandError(f"{name} is larger than {limit:,} bytes: not what it should be", returncode=2)
            return path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {name}: {exc.strerror or exc}", returncode=2) from None

    def _report(self, file: str, payload: dict, result: PdfCheck) -> None:
        card, grade = payload["card"], payload["grade"]
        self.stdout.write(printable(
            f"certificate {payload['id']}: {card['gpu_vendor']} {card['model']}, serial {card['serial'] or '-'}, "
            f"grade {grade['functional']}/{grade['cosmetic'] or '-'}, issued {payload['issued_at']} by "
            f"{payload['issuer']}"))
        for note in result.notes:
            self.stdout.write(f"  ok       {printable(note)}")
        for doubt in result.unconfirmed:
            self.stdout.write(f"  UNSURE   {printable(doubt)}")
        for problem in result.problems:
            self.stdout.write(f"  PROBLEM  {printable(problem)}")
        if result.exit_status == 1:
            raise CommandError(f"{file}: NOT VERIFIED ({len(result.problems)} problem(s))", returncode=1)
        if result.exit_status == 2:
            raise CommandError(f"{file}: NOT CONFIRMED: the signature is good, but the printed pages could not be "
                               "confirmed here; verify it online", returncode=2)
        self.stdout.write(self.style.SUCCESS(f"{file}: verified"))
