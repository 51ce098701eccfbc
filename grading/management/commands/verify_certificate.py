"""python manage.py verify_certificate FILE.pdf [--keys keys.json]: check a certificate PDF.

It reads the signed payload embedded in the PDF (strictly: one meaning, bounded size and nesting, the members a
certificate has), checks its Ed25519 signature against the published keys (this issuer's, or a keys.json such as
/.well-known/refurb-keys.json saved to a file), checks that the printed page says what the payload says, and —
unless --keys is given (offline) — compares it with the issuer's record and status.

Exit status: 0 genuine and valid; 1 tampered, a wrong key, revoked, superseded or unknown to the issuer; 2
unreadable input, or not a certificate (an ambiguous or malformed attachment included).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from grading.attachment import NotACertificate, strict_json
from grading.keys import keyring
from grading.models import Certificate
from grading.pdf import ATTACHMENT_NAME
from grading.services import public_id_normalize
from grading.signing import SigningError, keyring_from_document
from grading.verification import MAX_PDF_BYTES, PdfCheck, certificate_file_read, check_pdf


def printable(text) -> str:
    """`text` with control and format characters escaped: what a file says must not move the cursor, clear the
    terminal or start a line of its own that reads like a verdict."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


class Command(BaseCommand):
    help = ("Check a certificate PDF's signature, printed facts and (online) the issuer's record of it. Exit 0 "
            "verified, 1 not genuine or not valid, 2 not a certificate.")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.pdf")
        parser.add_argument("--keys", metavar="keys.json",
                            help="published keys to check against, offline (a saved /.well-known/refurb-keys.json)")

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
        for problem in result.problems:
            self.stdout.write(f"  PROBLEM  {printable(problem)}")
        if result.exit_status == 1:
            raise CommandError(f"{file}: NOT VERIFIED ({len(result.problems)} problem(s))", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"{file}: verified"))
