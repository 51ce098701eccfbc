"""Certificate signatures: RFC 8785 (JCS) canonical JSON, signed with Ed25519.

Django-free, so `verify_certificate` and anyone's script can check a certificate with the public keys alone.

- The payload is canonicalized with JCS (the `rfc8785` package) and those exact bytes are signed.
- A key id is derived from the public key ("ed25519:" + the first 16 hex digits of SHA-256 of its 32 raw bytes), so
  an id can never name the wrong key.
- Public keys travel as JWKs (RFC 8037: kty OKP, crv Ed25519, x = base64url of the raw key), the form
  `/.well-known/refurb-keys.json` publishes and `--keys` reads.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"


class SigningError(ValueError):
    """A key or signature that cannot be used, with the reason."""


def canonicalize(payload) -> bytes:
    """The RFC 8785 canonical form of `payload`: the bytes that are signed and checked."""
    try:
        return rfc8785.dumps(payload)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise SigningError(f"payload cannot be canonicalized: {exc}") from exc


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise SigningError("expected a base64url string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise SigningError(f"not base64url: {exc}") from exc


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(public_key: Ed25519PublicKey) -> str:
    return "ed25519:" + hashlib.sha256(raw_public(public_key)).hexdigest()[:16]


def public_jwk(public_key: Ed25519PublicKey, **extra) -> dict:
    return {"kid": key_id_for(public_key), "kty": "OKP", "crv": "Ed25519", "alg": ALGORITHM,
            "x": b64url(raw_public(public_key)), **extra}


def public_key_from_jwk(jwk: dict) -> Ed25519PublicKey:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise SigningError("a key must be a JWK with kty OKP and crv Ed25519")
    raw = b64url_decode(jwk.get("x", ""))
    if len(raw) != 32:
        raise SigningError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    key = Ed25519PublicKey.from_public_bytes(raw)
    if jwk.get("kid") and jwk["kid"] != key_id_for(key):
        raise SigningError(f"key id {jwk['kid']} does not match its key ({key_id_for(key)})")
    return key


def keyring_from_document(document) -> dict[str, Ed25519PublicKey]:
    """Public keys by id, from a `refurb-keys.json` document ({"keys": [JWK, …]})."""
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise SigningError('a key document is a JSON object with a "keys" list')
    ring = {}
    for jwk in keys:
        key = public_key_from_jwk(jwk)
        ring[key_id_for(key)] = key
    return ring


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_key)

    def sign(self, payload) -> tuple[bytes, str]:
        """(canonical bytes, base64url signature) for `payload`."""
        canonical = canonicalize(payload)
        return canonical, b64url(self.private_key.sign(canonical))


def private_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def load_private_key(pem: bytes | str, *, source: str) -> SigningKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{source}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{source}: an Ed25519 key is needed, not {type(key).__name__}")
    return SigningKey(key)


def generate_key_file(path: Path) -> SigningKey:
    """A new Ed25519 key, written to `path` readable by its owner only. Refuses to overwrite a key."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:  # "x": never overwrite a key that signed certificates
        path.chmod(0o600)
        handle.write(private_key_pem(key))
    return SigningKey(key)


def verify_signature(payload, signature: str, key_id: str, keyring: dict[str, Ed25519PublicKey]) -> str:
    """"" if `signature` by `key_id` is good for `payload`, else why not."""
    try:
        canonical = canonicalize(payload)
    except SigningError as exc:
        return str(exc)
    return verify_signed_bytes(canonical, signature, key_id, keyring)


def verify_signed_bytes(canonical: bytes, signature: str, key_id: str, keyring: dict[str, Ed25519PublicKey]) -> str:
    """"" if `signature` by `key_id` is good for the canonical bytes, else why not."""
    key = keyring.get(key_id)
    if key is None:
        return f"key {key_id} is not among the published keys"
    try:
        raw = b64url_decode(signature)
    except SigningError as exc:
        return str(exc)
    try:
        key.verify(raw, canonical)
    except InvalidSignature:
        return "the signature does not match the payload: the payload or the signature was changed"
    return ""


def envelope(payload: dict, signature: str, key_id: str) -> dict:
    """What a certificate PDF carries as its attachment: the payload and its signature."""
    return {"alg": ALGORITHM, "kid": key_id, "payload": payload, "signature": signature}


def envelope_bytes(envelope_dict: dict) -> bytes:
    return json.dumps(envelope_dict, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
