"""Checks of values that come from people and machines, shared by the models, the API, the admin and intake: text
without control or format characters, board serials in one canonical form, ISO 4217 currencies, plausible purchase
dates, money within its columns, and JSON of bounded depth and size."""

from __future__ import annotations

import csv
import unicodedata
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible

# --- Text -----------------------------------------------------------------------------------------------------

# Cc (control) and Cf (format: zero-width spaces and joiners, direction overrides, soft hyphens…) are invisible or
# reorder what is shown: in a serial or a reference they make two values that print alike compare different. Cs
# (a lone surrogate) is not text at all, and PostgreSQL refuses it.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs"}
# Line and paragraph separators break a line where one line is expected.
_LINE_BREAKING = {"Zl", "Zp"}
_CONTROL_NAMES = {0x00: "NULL", 0x09: "CHARACTER TABULATION", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN",
                  0x1B: "ESCAPE", 0x7F: "DELETE"}


def character_label(char: str) -> str:
    """U+200B ZERO WIDTH SPACE: how a character is named in messages (control characters have no Unicode name)."""
    code = ord(char)
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(code, "")
    return f"U+{code:04X} {name}".rstrip()


def _kind(category: str) -> str:
    return {"Cc": "a control character", "Cf": "an invisible format character", "Cs": "not a valid character",
            "Zl": "a line break", "Zp": "a paragraph break"}[category]


def text_problem(value: str, *, multiline: bool = False) -> str:
    """Why `value` is not acceptable text, naming the first offending character and where it is, or "".
    Multi-line text (notes) may hold line breaks (LF, or CRLF as Windows writes them) and tabs."""
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if category not in _REFUSED_CATEGORIES and (multiline or category not in _LINE_BREAKING):
            continue
        if multiline and (char in "\n\t" or (char == "\r" and value[index + 1:index + 2] == "\n")):
            continue
        return f"contains {character_label(char)} ({_kind(category)}) at character {index + 1}"
    return ""


@deconstructible
class PlainText:
    """Model and form validator: no control or format characters; with multiline, line breaks and tabs allowed."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value) -> None:
        if isinstance(value, str) and (problem := text_problem(value, multiline=self.multiline)):
            raise ValidationError(problem, code="invalid_character")

    def __eq__(self, other) -> bool:
        return isinstance(other, PlainText) and other.multiline == self.multiline

    def __hash__(self) -> int:
        return hash((PlainText, self.multiline))


# Every CharField of the project's models carries LINE_TEXT, every TextField BLOCK_TEXT (tests/inventory/
# test_hostile_inputs.py checks that none lacks it).
LINE_TEXT = PlainText()
BLOCK_TEXT = PlainText(multiline=True)


# --- Serials ----------------------------------------------------------------------------------------------------

def _serial_compact(text: str) -> str:
    # NFKC folds look-alikes into one spelling (a no-break space into a space, full-width letters into ASCII), then
    # every space goes: a sticker's grouping is not part of the serial, and typists space it as they please.
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def serial_normalize(text: str) -> str:
    """A board serial as typed in its stored form: NFKC, no whitespace at all, upper case. Raises ValidationError
    naming the character if it holds a control or invisible format character (a zero-width space makes a serial
    that prints like another but is not it: refused, not silently dropped, so the sticker gets read again)."""
    text = text or ""
    if problem := text_problem(text):
        raise ValidationError(problem, code="invalid_character")
    return _serial_compact(text)


def serial_lookup_key(text: str) -> str:
    """The stored form of a serial someone searches for (a buyer, a bench): like serial_normalize, but invisible
    characters are dropped rather than refused, since nothing stored holds them."""
    kept = "".join(c for c in text or "" if unicodedata.category(c) not in _REFUSED_CATEGORIES)
    return _serial_compact(kept)


# --- Currencies -------------------------------------------------------------------------------------------------

CURRENCY_FILE = Path(__file__).resolve().parent / "data" / "iso4217.csv"


@cache
def currency_codes() -> frozenset[str]:
    """The current ISO 4217 alphabetic codes (inventory/data/iso4217.csv, whose header says where they come from)."""
    lines = [line for line in CURRENCY_FILE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return frozenset(row["code"] for row in csv.DictReader(lines))


def currency_validator(value: str) -> None:
    if value in currency_codes():
        return
    hint = f"; codes are upper case: {value.upper()}" if value.upper() in currency_codes() else ""
    raise ValidationError(f"{value!r} is not a current ISO 4217 currency code, such as USD or EUR{hint}",
                          code="invalid_currency")


# --- Dates ------------------------------------------------------------------------------------------------------

# Cards were first bought for mining with the first cryptocurrency, launched on 2009-01-03.
EARLIEST_PURCHASE = date(2009, 1, 1)


def purchase_date_validator(value: date) -> None:
    """A purchase date is not before GPU mining existed and not in the future (a day's slack for time zones)."""
    if value < EARLIEST_PURCHASE:
        raise ValidationError(f"{value.isoformat()} is before {EARLIEST_PURCHASE.isoformat()}; check the year",
                              code="too_early")
    if value > timezone.localdate() + timedelta(days=1):
        raise ValidationError(f"{value.isoformat()} is in the future", code="in_future")


# --- Money ------------------------------------------------------------------------------------------------------

# The columns' size (MONEY in models.py): 12 digits, 2 of them after the point.
MONEY_DIGITS = 12
MONEY_PLACES = 2
MONEY_MAX = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - Decimal("0.01")


def money_parse(text: str) -> Decimal:
    """An amount as written in a sheet or on a command line: plain digits with at most one point and 2 places, not
    negative, at most MONEY_MAX. Raises ValueError with a message for the user (never decimal's own errors)."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError("empty")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number (use digits and a dot, e.g. 120.50)") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a number")
    if "e" in raw.lower():
        raise ValueError(f"{raw!r}: write the amount in plain digits, e.g. 120.50")
    if value < 0:
        raise ValueError("must not be negative")
    if value > MONEY_MAX:  # compared before any rounding: quantize() of 1e26 overflows decimal's context
        raise ValueError(f"{raw!r} is too large (at most {MONEY_MAX})")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"at most {MONEY_PLACES} decimal places")
    return value
