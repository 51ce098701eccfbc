"""Filters for certificate pages and PDFs."""

from datetime import UTC, datetime
from urllib.parse import urlsplit

from django import template

from ..policy import condition_label

register = template.Library()


@register.filter
def percent(value) -> str:
    try:
        return f"{float(value):.0%}"
    except (TypeError, ValueError):
        return "—"


@register.filter
def first_summary(checks, name: str) -> str:
    return next((c.get("summary", "") for c in checks or [] if c.get("name") == name), "")


@register.filter
def keys_url(verify_url: str) -> str:
    """The published keys' address on the host a verify URL names."""
    parts = urlsplit(verify_url or "")
    return f"{parts.scheme}://{parts.netloc}/.well-known/refurb-keys.json" if parts.netloc else ""


@register.filter
def condition(value) -> str:
    """A channel's condition with its id ("Seller refurbished (2500)"), or the name alone on an older grade."""
    return condition_label(value)


@register.filter
def in_words(value) -> str:
    """An ISO 8601 UTC time as a buyer reads it: "3 Dec 2026, 05:40 UTC" (the text as given if it is not one)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return str(value or "")
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"
