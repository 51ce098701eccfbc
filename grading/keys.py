"""The certificate signing key, and the public keys published for verification.

The private key comes from settings.REFURB_SIGNING_KEY (PEM text, e.g. from a secret store) or else the key file
settings.REFURB_SIGNING_KEY_FILE (created on first use, mode 0600). Every key that signs is recorded as a
PublishedKey; when another key takes over (rotation), the old one is marked retired and stays published, so the
certificates it signed still verify.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import PublishedKey
from .signing import (
    SigningError,
    SigningKey,
    b64url,
    b64url_decode,
    generate_key_file,
    load_private_key,
    public_jwk,
    raw_public,
)

log = logging.getLogger(__name__)
_loaded: dict[tuple, SigningKey] = {}


def key_file_path() -> Path:
    return Path(settings.REFURB_SIGNING_KEY_FILE)


def active_signing_key() -> SigningKey:
    """The key that signs new certificates (loaded once per process and source)."""
    pem = settings.REFURB_SIGNING_KEY
    if pem:
        source = ("setting", pem)
        if source not in _loaded:
            _loaded[source] = load_private_key(pem, source="REFURB_SIGNING_KEY")
        return _loaded[source]
    path = key_file_path()
    if not path.exists():
        generate_key_file(path)
        log.warning("created a new certificate signing key in %s; back it up, or set REFURB_SIGNING_KEY_FILE", path)
    source = ("file", str(path), path.stat().st_mtime_ns)
    if source not in _loaded:
        _loaded[source] = load_private_key(path.read_bytes(), source=str(path))
    return _loaded[source]


def key_publish(key: SigningKey) -> PublishedKey:
    """Record `key` as published and current; any other current key becomes retired (still published)."""
    with transaction.atomic():
        record, _ = PublishedKey.objects.get_or_create(
            key_id=key.key_id, defaults={"public_key": b64url(raw_public(key.public_key))})
        if record.retired_at is not None:
            raise SigningError(f"key {key.key_id} was retired; a retired key does not sign again")
        PublishedKey.objects.filter(retired_at__isnull=True).exclude(pk=record.pk).update(retired_at=timezone.now())
    return record


def signing_key_for_issue() -> SigningKey:
    key = active_signing_key()
    key_publish(key)
    return key


def keys_document() -> dict:
    """The `/.well-known/refurb-keys.json` document: every key that has signed, current or retired."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = []
    for record in PublishedKey.objects.all():
        public = Ed25519PublicKey.from_public_bytes(b64url_decode(record.public_key))
        keys.append(public_jwk(public, use="sig", status="retired" if record.retired_at else "current",
                               created=record.created_at.isoformat(timespec="seconds"),
                               **({"retired": record.retired_at.isoformat(timespec="seconds")}
                                  if record.retired_at else {})))
    return {"issuer": settings.REFURB_ISSUER, "keys": keys}


_keyring: dict = {}


def keyring(*, needs: str = "") -> dict:
    """Every published public key by id. Kept per process, since keys are only ever added: it is read again from
    the database when asked for a key id it does not hold (one published since), so the public verify page costs
    no key query."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not _keyring or (needs and needs not in _keyring):
        fresh = {r.key_id: Ed25519PublicKey.from_public_bytes(b64url_decode(r.public_key))
                 for r in PublishedKey.objects.all()}
        _keyring.clear()
        _keyring.update(fresh)
    return dict(_keyring)


def keyring_forget() -> None:
    _keyring.clear()


def key_rotate() -> tuple[str, SigningKey]:
    """Retire the key file's key (the file is kept beside it as *.retired-<date>.pem, to be shredded once backed
    up) and start a new one. Returns (the retired key id or "", the new key)."""
    if settings.REFURB_SIGNING_KEY:
        raise SigningError("the signing key comes from the REFURB_SIGNING_KEY setting: generate a new one with "
                           "`manage.py signing_key generate FILE` and set it there")
    path = key_file_path()
    old_id = ""
    if path.exists():
        old = load_private_key(path.read_bytes(), source=str(path))
        old_id = old.key_id
        key_publish(old)  # so that it is published even if it never signed
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        path.rename(path.with_name(f"{path.stem}.retired-{stamp}{path.suffix}"))
    new = generate_key_file(path)
    key_publish(new)
    return old_id, new
