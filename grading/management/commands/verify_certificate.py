"""python manage.py verify_certificate FILE.pdf [--keys keys.json]: check a certificate PDF.

It reads the signed payload embedded in the PDF, checks its Ed25519 signature against the published keys (this
issuer's, or a keys.json such as /.well-known/refurb-keys.json saved to a file), checks that the printed page says
what the payload says, and — unless --keys is given (offline) — compares it with the issuer's record and status.
Exit status: 0 genuine and valid, 1 tampered, revoked, superseded or unknown, 2 unreadable input.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from grading.keys import keyring
from grading.models import Certificate
from grading.pdf import ATTACHMENT_NAME
from grading.signing import SigningError, keyring_from_document
from grading.verification import NotACertificate, check_pdf, pdf_envelope_and_text


class Command(BaseCommand):
    help = "Check a certificate PDF's signature, printed facts and (online) the issuer's record of it."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.pdf")
        parser.add_argument("--keys", metavar="keys.json",
                            help="published keys to check against, offline (a saved /.well-known/refurb-keys.json)")

    def handle(self, *args, file: str, keys: str | None, **options):
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}", returncode=2) from None
        if keys:
            try:
                ring = keyring_from_document(json.loads(Path(keys).read_text(encoding="utf-8")))
            except OSError as exc:
                raise CommandError(f"cannot read {keys}: {exc.strerror or exc}", returncode=2) from None
            except (ValueError, SigningError) as exc:
                raise CommandError(f"{keys} is not a key document: {exc}", returncode=2) from None
        try:
            envelope, text = pdf_envelope_and_text(data, ATTACHMENT_NAME)
        except NotACertificate as exc:
            raise CommandError(f"{file}: {exc}", returncode=2) from None
        if not keys:
            ring = keyring(needs=str(envelope.get("kid", "")))
        payload = envelope["payload"]
        envelope_id = str(payload.get("id", ""))
        record = None if keys else Certificate.objects.filter(public_id=envelope_id).first()
        result = check_pdf(envelope, text, ring, record=record, lookup_done=not keys)
        card, grade = payload.get("card", {}), payload.get("grade", {})
        self.stdout.write(f"certificate {envelope_id}: {card.get('gpu_vendor', '')} {card.get('model', '')}, serial "
                          f"{card.get('serial') or '-'}, grade {grade.get('functional')}/{grade.get('cosmetic') or '-'}"
                          f", issued {payload.get('issued_at')} by {payload.get('issuer')}")
        for note in result.notes:
            self.stdout.write(f"  ok       {note}")
        for problem in result.problems:
            self.stdout.write(f"  PROBLEM  {problem}")
        if not result.ok:
            raise CommandError(f"{file}: NOT VERIFIED ({len(result.problems)} problem(s))", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"{file}: verified"))
