"""Reading a certificate PDF's attachment as a verifier must: strictly, and bounded, before anything uses it.

The attachment is hostile until its signature is checked, and the signature only covers the payload as parsed. So
the JSON must mean one thing: no key twice in an object (Python would keep the last one silently), no number that
JSON parsers disagree on (NaN and Infinity, integers beyond ±(2^53 − 1), decimals a double cannot hold exactly), no
text that is not Unicode. Its size and nesting are bounded before it is parsed, and the envelope's members must have
the types the verifier, the verify page and the PDF read, so that no malformed file can do more than be refused.

Django-free, like signing.py: anyone's script can use it.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from itertools import accumulate

from .payload import MAX_SAFE_INTEGER, THERMAL_SERIES, schema_version
from .signing import ALGORITHM

# A genuine envelope is some 20 KB and nests 7 deep (envelope, payload, test, checks, a check, evidence, a list).
MAX_ATTACHMENT_BYTES = 1 << 20
MAX_NESTING = 32
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class NotACertificate(ValueError):
    """The file is not a readable PDF, or carries no well-formed refurb certificate attachment (exit status 2)."""


class AmbiguousJson(NotACertificate):
    """JSON that parsers may read differently: a duplicate key, an unsafe number, text that is not Unicode."""


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise AmbiguousJson(f"the key {json.dumps(twice)[:80]} appears twice in one object")
    return document


def _refuse_constant(name: str):
    raise AmbiguousJson(f"{name} is not a JSON number")


def _safe_int(text: str) -> int:
    # Checked by length first: Python refuses to convert integers of more than 4,300 digits at all.
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        raise AmbiguousJson(f"the integer {text[:40]} is beyond ±(2^53 − 1), where JSON parsers disagree")
    return int(text)


def _exact_float(text: str) -> float:
    value = float(text)
    try:
        exact = math.isfinite(value) and Decimal(repr(value)) == Decimal(text)
    except InvalidOperation:
        exact = False
    if not exact:
        raise AmbiguousJson(f"the number {text[:40]} cannot be held exactly by a double, so parsers may disagree")
    return value


def _nesting(text: str) -> int:
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_DEPTH_STEP[c] for c in brackets), default=0)


def _lone_surrogate(document) -> bool:
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def strict_json(data: bytes, *, what: str):
    """`data` parsed as I-JSON (RFC 7493): UTF-8, at most MAX_ATTACHMENT_BYTES and MAX_NESTING deep, no duplicate
    keys, only numbers a double holds exactly. Raises NotACertificate (AmbiguousJson for what parsers may read
    differently) naming what was wrong."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise NotACertificate(f"{what} is {len(data):,} bytes, more than a certificate ever holds "
                              f"({MAX_ATTACHMENT_BYTES:,})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotACertificate(f"{what} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if (depth := _nesting(text)) > MAX_NESTING:
        raise NotACertificate(f"{what} nests {depth} deep, more than a certificate ever does ({MAX_NESTING})")
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_refuse_constant,
                              parse_int=_safe_int, parse_float=_exact_float)
    except AmbiguousJson as exc:
        raise AmbiguousJson(f"{what} is ambiguous JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise NotACertificate(f"{what} is not JSON ({str(exc)[:120]})") from None
    if _lone_surrogate(document):
        raise AmbiguousJson(f"{what} is ambiguous JSON: it holds text that is not Unicode (a lone surrogate)")
    return document


# --- the envelope's shape --------------------------------------------------------------------------------------
# A shape is a type, a tuple of shapes (any of them), a dict of member shapes (each member required; others are
# let be), ListOf or MapOf. None stands for null.

NUMBER = "number"
# Lists of plain values are checked by their items' exact types in one pass, since the thermal series are hundreds
# of numbers. (bool is not a number here; nor are subclasses, which JSON never gives.)
_FLAT = {NUMBER: frozenset({int, float}), "number or null": frozenset({int, float, type(None)})}


class ListOf:
    def __init__(self, item):
        self.item = item
        self.flat = _FLAT[NUMBER] if item == NUMBER else _FLAT["number or null"] if item == (NUMBER, None) else None


class MapOf:
    def __init__(self, value):
        self.value = value


TEXT_OR_NULL = (str, None)
CONDITION = (str, None, {"name": str})  # schema 1 stored a name, later ones {"id", "name", …}
CHECK = {"name": str, "status": str, "summary": str, "metrics": dict}
PAYLOAD = {
    "schema": str, "id": str, "issued_at": str, "issuer": str, "verify_url": str, "supersedes": TEXT_OR_NULL,
    "card": {"model": str, "gpu_vendor": str, "board_vendor": str, "serial": TEXT_OR_NULL, "asset_tag": str,
             "vram_gib": (NUMBER, None), "memory_type": str, "nvml_uuid": TEXT_OR_NULL, "pci_id": str,
             "vbios_version": TEXT_OR_NULL, "simulated": bool},
    "test": {"plan": str, "started_at": TEXT_OR_NULL, "finished_at": TEXT_OR_NULL, "verdict": str,
             "software": dict, "checks": ListOf(CHECK)},
    "grade": {"functional": str, "cosmetic": TEXT_OR_NULL, "policy_version": str,
              "reasons": ListOf({"sentence": str}), "marketplace": MapOf(CONDITION),
              "override": (None, {"measured_grade": str, "reason": str, "by": str, "at": str})},
    "ai_readiness": (None, dict),
}
CHECK_FINDINGS = {"findings": ListOf({"code": str, "severity": str, "sentence": str})}  # from schema 4
THERMAL = (None, {"time_s": ListOf(NUMBER)})  # and each sensor's readings: payload_shape_problem
SOFTWARE = MapOf(TEXT_OR_NULL)
READINGS = ListOf((NUMBER, None))
ENVELOPE = {"alg": str, "kid": str, "signature": str, "payload": dict}
_NAMES = {str: "text", bool: "true or false", dict: "an object", list: "a list", None: "null", NUMBER: "a number"}


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return {str: "text", dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _wanted(shape) -> str:
    if isinstance(shape, tuple):
        return " or ".join(_wanted(s) for s in shape)
    if isinstance(shape, dict):
        return "an object"
    if isinstance(shape, ListOf):
        return "a list"
    if isinstance(shape, MapOf):
        return "an object"
    return _NAMES.get(shape, str(shape))


def _fits(value, shape) -> bool:
    if shape is None:
        return value is None
    if shape is NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(shape, tuple):
        return any(_fits(value, s) for s in shape)
    if isinstance(shape, dict | MapOf):
        return isinstance(value, dict)
    if isinstance(shape, ListOf):
        return isinstance(value, list)
    return isinstance(value, shape) and not (shape is int and isinstance(value, bool))


def shape_problem(value, shape, path: str) -> str:
    """"" if `value` has `shape`, else where and how it does not ("payload.card.serial is a list, not text or
    null")."""
    if not _fits(value, shape):
        return f"{path} is {_kind(value)}, not {_wanted(shape)}"
    if isinstance(shape, tuple):
        shape = next(s for s in shape if _fits(value, s))
    if isinstance(shape, dict):
        for key, member in shape.items():
            if key not in value:
                return f"{path}.{key} is missing"
            if problem := shape_problem(value[key], member, f"{path}.{key}"):
                return problem
    elif isinstance(shape, ListOf):
        if shape.flat is not None and all(type(item) in shape.flat for item in value):
            return ""
        for index, item in enumerate(value):
            if problem := shape_problem(item, shape.item, f"{path}[{index}]"):
                return problem
    elif isinstance(shape, MapOf):
        for key, item in value.items():
            if problem := shape_problem(item, shape.value, f"{path}.{key}"):
                return problem
    return ""


def payload_shape_problem(payload, path: str = "payload") -> str:
    """"" if `payload` has the members a certificate's readers use, of the right types, else what is wrong. Schema 3
    also carries its thermal series (each sensor a list of numbers or nulls as long as its times) and software
    versions as text; schema 4 each check's findings and each reason's code."""
    if problem := shape_problem(payload, PAYLOAD, path):
        return problem
    if schema_version(payload) >= 4:
        for index, check in enumerate(payload["test"]["checks"]):
            if problem := shape_problem(check, CHECK_FINDINGS, f"{path}.test.checks[{index}]"):
                return problem
        if problem := shape_problem(payload["grade"]["reasons"], ListOf({"code": str}), f"{path}.grade.reasons"):
            return problem
    if schema_version(payload) < 3:
        return ""
    test = payload["test"]
    if "thermal" not in test:
        return f"{path}.test.thermal is missing"
    if problem := (shape_problem(test["thermal"], THERMAL, f"{path}.test.thermal")
                   or shape_problem(test["software"], SOFTWARE, f"{path}.test.software")):
        return problem
    thermal = test["thermal"] or {}
    for key in THERMAL_SERIES:
        series = thermal.get(key)
        if series is None:
            continue
        if problem := shape_problem(series, READINGS, f"{path}.test.thermal.{key}"):
            return problem
        if len(series) != len(thermal["time_s"]):
            return f"{path}.test.thermal.{key} has {len(series)} readings for {len(thermal['time_s'])} times"
    return ""


def envelope_from_attachment(data: bytes, *, name: str) -> dict:
    """The envelope ({"alg", "kid", "payload", "signature"}) in a certificate's attachment, read strictly and
    checked for shape. Raises NotACertificate naming what was wrong."""
    what = f"the {name} attachment"
    document = strict_json(data, what=what)
    if not isinstance(document, dict):
        raise NotACertificate(f"{what} is {_kind(document)}, not an object")
    # The envelope is not signed: a member the issuer never writes could only say what the signature does not.
    unknown = sorted(set(document) - set(ENVELOPE))
    problem = (shape_problem(document, ENVELOPE, "envelope")
               or (f"envelope.{unknown[0][:40]} is not a member of a certificate envelope" if unknown else "")
               or payload_shape_problem(document["payload"]))
    if problem:
        raise NotACertificate(f"{what} is not a certificate envelope: {problem}")
    if document["alg"] != ALGORITHM:
        raise NotACertificate(f"{what} names the algorithm {document['alg'][:40]!r}; certificates are signed with "
                              f"{ALGORITHM}")
    return document
