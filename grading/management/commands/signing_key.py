"""python manage.py signing_key show|generate FILE|rotate: the certificate signing key and the published keys."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from grading.keys import active_signing_key, key_publish, key_rotate, keys_document
from grading.signing import SigningError, generate_key_file


class Command(BaseCommand):
    help = ("show: the published keys (/.well-known/refurb-keys.json) and the current key; generate FILE: a new "
            "Ed25519 key file; rotate: retire the key file's key and start a new one (old keys stay published).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("show", help="print the published keys as JSON")
        generate = sub.add_parser("generate", help="write a new Ed25519 private key to FILE (mode 0600)")
        generate.add_argument("path", metavar="FILE")
        sub.add_parser("rotate", help="retire the current key file's key and create a new one")

    def handle(self, *args, action: str, **options):
        try:
            if action == "show":
                key_publish(active_signing_key())
                self.stdout.write(json.dumps(keys_document(), indent=2))
            elif action == "generate":
                path = Path(options["path"])
                if path.exists():
                    raise CommandError(f"{path} exists; a signing key is never overwritten", returncode=2)
                key = generate_key_file(path)
                self.stdout.write(f"wrote {path} (key {key.key_id}); point REFURB_SIGNING_KEY_FILE at it")
            else:
                old, new = key_rotate()
                self.stdout.write(f"retired {old or '(no key)'}, signing with {new.key_id}; the retired key stays "
                                  "published, and its file was kept beside the new one to back up and shred")
        except SigningError as exc:
            raise CommandError(str(exc), returncode=2) from None
