"""Canonical JSON and Ed25519 signatures: the RFC 8785 test vectors, and every way a certificate can be tampered
with (a payload byte, a signature byte, the wrong key) fails verification."""

import json
import math
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from grading.payload import plain
from grading.signing import (
    SigningError,
    SigningKey,
    b64url,
    b64url_decode,
    canonicalize,
    keyring_from_document,
    public_jwk,
    verify_signature,
)

pytestmark = pytest.mark.database_independent

# The RFC 8785 vectors, copied into the repository with their licence and source (tests/data/jcs/SOURCE.md).
JCS = Path(__file__).resolve().parents[1] / "data" / "jcs"
VECTORS = sorted(p.stem for p in (JCS / "input").glob("*.json"))
PAYLOAD = {
    "schema": "refurb-certificate/1", "id": "R18PD2FCYS5GG5DZJ391CY32ZB06", "issued_at": "2026-11-28T18:28:21Z",
    "card": {"model": "GeForce RTX 3080", "serial": "SN-ÄÖ-0001", "vram_gib": 10, "simulated": False},
    "grade": {"functional": "F-B", "reasons": [{"code": "performance_below_reference", "measured": 0.934,
                                               "threshold": 0.95, "sentence": "BF16 throughput 93% of reference"}]},
    "ai_readiness": {"largest_model_billions": {"fp16": 4.0, "int4": 14.3}, "bf16": True, "note": None},
}


def test_the_vectors_are_there():
    assert len(VECTORS) >= 6, f"RFC 8785 vectors missing from {JCS}"


@pytest.mark.parametrize("name", VECTORS)
def test_canonical_form_matches_the_rfc_8785_vectors(name):
    source = json.loads((JCS / "input" / f"{name}.json").read_text(encoding="utf-8"))
    expected = (JCS / "output" / f"{name}.json").read_bytes()
    assert canonicalize(source) == expected
    assert expected == bytes.fromhex("".join((JCS / "outhex" / f"{name}.txt").read_text().split()))


@pytest.fixture(scope="module")
def key():
    return SigningKey(Ed25519PrivateKey.generate())


def test_a_signed_payload_verifies(key):
    canonical, signature = key.sign(PAYLOAD)
    assert canonical == canonicalize(json.loads(canonical))  # canonical bytes are a fixed point
    assert verify_signature(PAYLOAD, signature, key.key_id, {key.key_id: key.public_key}) == ""
    # Key order and formatting do not matter: the canonical form is what is signed.
    reordered = json.loads(json.dumps(PAYLOAD, sort_keys=True, indent=3))
    assert verify_signature(reordered, signature, key.key_id, {key.key_id: key.public_key}) == ""


def test_changing_any_payload_byte_fails_verification(key):
    canonical, signature = key.sign(PAYLOAD)
    ring = {key.key_id: key.public_key}
    checked = 0
    for position in range(len(canonical)):
        tampered = bytearray(canonical)
        tampered[position] ^= 0x01
        try:
            payload = json.loads(bytes(tampered).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue  # no longer JSON: nothing to accept
        checked += 1
        assert verify_signature(payload, signature, key.key_id, ring), f"byte {position} changed, still verified"
    assert checked > len(canonical) // 2  # most single-bit changes still parse: the signature is what catches them


def test_changing_any_signature_byte_fails_verification(key):
    _, signature = key.sign(PAYLOAD)
    raw = b64url_decode(signature)
    assert len(raw) == 64
    for position in range(len(raw)):
        tampered = bytearray(raw)
        tampered[position] ^= 0x80
        problem = verify_signature(PAYLOAD, b64url(bytes(tampered)), key.key_id, {key.key_id: key.public_key})
        assert "does not match" in problem


def test_a_wrong_or_unknown_key_fails_verification(key):
    _, signature = key.sign(PAYLOAD)
    other = SigningKey(Ed25519PrivateKey.generate())
    # The right id mapped to another key (a substituted key document), and an id nobody published.
    assert "does not match" in verify_signature(PAYLOAD, signature, key.key_id, {key.key_id: other.public_key})
    assert "not among the published keys" in verify_signature(PAYLOAD, signature, key.key_id,
                                                              {other.key_id: other.public_key})
    # A signature made by another key, claiming this key's id.
    _, forged = other.sign(PAYLOAD)
    assert "does not match" in verify_signature(PAYLOAD, forged, key.key_id, {key.key_id: key.public_key})


def test_key_documents_are_checked(key):
    ring = keyring_from_document({"keys": [public_jwk(key.public_key)]})
    assert list(ring) == [key.key_id]
    wrong_id = {**public_jwk(key.public_key), "kid": "ed25519:0000000000000000"}
    with pytest.raises(SigningError, match="does not match its key"):
        keyring_from_document({"keys": [wrong_id]})
    with pytest.raises(SigningError, match="32 bytes"):
        keyring_from_document({"keys": [{**public_jwk(key.public_key), "x": b64url(b"short"), "kid": ""}]})
    with pytest.raises(SigningError, match='"keys" list'):
        keyring_from_document([])


def test_payload_values_are_made_json_exact():
    assert plain({"a": math.nan, "b": math.inf, "c": 2**60, "d": 0.123456789, "e": 3.0, "f": (1, 2)}) == \
        {"a": None, "b": None, "c": str(2**60), "d": 0.1235, "e": 3, "f": [1, 2]}
    canonicalize(plain({"x": [math.nan, 1e300, -0.0]}))  # nothing JCS refuses is left
    with pytest.raises(SigningError, match="cannot be canonicalized"):
        canonicalize({"x": math.nan})
