"""Pricing: the current rules, reference prices (entered or imported from CSV), a listing's quote (suggested price,
floor, cost, margin) and price changes with their history. The arithmetic is resale/pricing.py's."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from core.errors import Conflict, InvalidInput
from core.roles import ADMIN, user_roles
from inventory.errors import IntakeRejected, RowError
from inventory.services import CatalogIndex
from inventory.services.sheets import CsvSheet, sheet_read_csv
from inventory.validators import currency_codes, money_parse, text_problem

from ..choices import ListingStatus
from ..models import Listing, PriceChange, PricingPolicy, ReferencePrice
from ..pricing import DEFAULT_RULES, fees_at, floor_for, margin_at, rules_problems, suggested_for
from ..selectors import CardFacts, cards_facts

REFERENCE_COLUMNS = ("model", "price", "currency", "source")
REFERENCE_REQUIRED = ("model", "price", "currency")


def pricing_rules_current() -> dict:
    """The newest pricing policy's rules (with its version), else the defaults of resale/pricing.py."""
    policy = PricingPolicy.objects.order_by("-created_at", "-id").first()
    return {**policy.rules, "version": policy.version} if policy else dict(DEFAULT_RULES)


def pricing_policy_create(*, version: str, rules: dict, note: str = "", actor=None) -> PricingPolicy:
    """A new version of the pricing rules. Every problem is named; a version is never reused."""
    errors = {}
    version = (version or "").strip()
    if not version or text_problem(version, multiline=False):
        errors["version"] = ["a version, e.g. 2026.12-2 (one line of text)"]
    problems = rules_problems(rules)
    if problems:
        errors["rules"] = problems
    if errors:
        raise InvalidInput(errors)
    try:
        with transaction.atomic():
            return PricingPolicy.objects.create(version=version, rules={k: v for k, v in rules.items()
                                                                        if k != "version"},
                                                note=note, created_by=actor)
    except IntegrityError:
        raise InvalidInput({"version": [f"version {version} exists; a change is a new version"]}) from None


@dataclass(frozen=True)
class Quote:
    """What a listing of these cards on this channel should cost. `suggested` is None without a reference price in
    the listing's currency (the reseller then names the price)."""

    channel: str
    currency: str
    cost: Decimal  # the cards' cost basis, summed; a card without one counts 0 (`cost_known` says so)
    cost_known: bool
    floor: Decimal
    suggested: Decimal | None
    version: str
    rules: dict
    why_no_suggestion: str = ""

    def fees(self, price: Decimal) -> Decimal:
        return fees_at(self.rules, self.channel, price)

    def margin(self, price: Decimal) -> Decimal:
        return margin_at(self.rules, self.channel, price, self.cost)


def reference_prices(model_ids) -> dict[tuple[int, str], ReferencePrice]:
    """The reference prices of these catalog models, by (model id, currency): one query for a page of quotes."""
    return {(r.gpu_model_id, r.currency): r for r in ReferencePrice.objects.filter(gpu_model_id__in=set(model_ids))}


def listing_quote(cards: list[CardFacts], *, channel: str, currency: str, rules: dict | None = None,
                  references: dict[tuple[int, str], ReferencePrice] | None = None) -> Quote:
    """`rules` and `references` (from reference_prices) when quoting many cards at once, so each quote reads
    nothing more."""
    rules = rules or pricing_rules_current()
    cost = sum((c.cost_basis or Decimal(0) for c in cards), Decimal(0))
    floor = floor_for(rules, channel, cost)
    if references is not None:
        reference = references.get((cards[0].gpu_model.pk, currency))
    else:
        reference = ReferencePrice.objects.filter(gpu_model=cards[0].gpu_model, currency=currency).first()
    grades = [(c.functional, c.cosmetic) for c in cards]
    priced = reference is not None and all(f in rules["grade_factors"] and k in rules["grade_factors"][f]
                                           for f, k in grades)
    suggested = suggested_for(rules, channel, reference.price, grades, floor) if priced else None
    why = ""
    if reference is None:
        why = (f"no reference price for {cards[0].gpu_model.name} in {currency}: give a price, or enter a reference "
               "price")
    elif not priced:
        unpriced = sorted({f"{f}/{k}" for f, k in grades if k not in rules["grade_factors"].get(f, {})})
        why = (f"no price rule for grade {', '.join(unpriced)} (a FAIL or cosmetic D card sells for parts): give a "
               "price")
    return Quote(channel=channel, currency=currency, cost=cost, cost_known=all(c.cost_basis is not None for c in cards),
                 floor=floor, suggested=suggested, version=rules["version"], rules=rules, why_no_suggestion=why)


def below_floor_allowed(*, price: Decimal, floor: Decimal, actor, reason: str) -> list[str]:
    """Why a price under the floor is refused (empty when it is at or above it, or an admin gave a reason)."""
    if price >= floor:
        return []
    problems = []
    if ADMIN not in user_roles(actor):
        problems.append(f"{price} is under the floor of {floor} (cost, fees and the minimum margin); only an admin "
                        "may price under the floor")
    if not (reason or "").strip():
        problems.append(f"{price} is under the floor of {floor}: a reason is required")
    return problems


def price_change_record(*, listing: Listing, from_price, to_price: Decimal, floor: Decimal, reason: str, actor=None,
                        actor_label: str = "") -> PriceChange:
    return PriceChange.objects.create(listing=listing, from_price=from_price, to_price=to_price,
                                      currency=listing.currency, floor=floor, below_floor=to_price < floor,
                                      reason=(reason or "").strip()[:200], changed_by=actor,
                                      actor_label=actor_label or (actor.get_username() if actor else ""))


def listing_price_set(*, listing: Listing, price, reason: str = "", actor=None, actor_label: str = "") -> Listing:
    """Change an open listing's price, recorded with who, when, from, to and why. Under the floor: an admin and a
    reason. The floor is recomputed from today's costs and rules."""
    try:
        amount = money_parse(str(price))
    except ValueError as exc:
        raise InvalidInput({"price": [str(exc)]}) from None
    with transaction.atomic():
        locked = Listing.objects.select_for_update().get(pk=listing.pk)
        if locked.status not in (ListingStatus.DRAFT, ListingStatus.ACTIVE):
            raise Conflict(f"listing {locked.pk} is {locked.status}; only a draft or active listing is repriced")
        facts = list(cards_facts(locked.items.values_list("unit_id", flat=True)).values())
        quote = listing_quote(facts, channel=locked.channel, currency=locked.currency)
        refused = below_floor_allowed(price=amount, floor=quote.floor, actor=actor, reason=reason)
        if refused:
            raise InvalidInput({"price": refused})
        if amount == locked.price:
            return locked
        price_change_record(listing=locked, from_price=locked.price, to_price=amount, floor=quote.floor,
                            reason=reason or "repriced", actor=actor, actor_label=actor_label)
        locked.price, locked.floor_price, locked.cost = amount, quote.floor, quote.cost
        locked.suggested_price, locked.pricing_version = quote.suggested, quote.version
        locked.save(update_fields=["price", "floor_price", "cost", "suggested_price", "pricing_version"])
    listing.refresh_from_db()
    return listing


def reference_prices_read(content: bytes | str) -> CsvSheet:
    return sheet_read_csv(content, columns=REFERENCE_COLUMNS, required=REFERENCE_REQUIRED,
                          decimal_columns=("price",))


def reference_prices_import(content: bytes | str) -> tuple[int, int]:
    """Reference prices from a CSV sheet (model, price, currency[, source]): all or nothing, every bad line named.
    Returns (created, updated)."""
    sheet = reference_prices_read(content)
    catalog = CatalogIndex()
    errors: list[RowError] = []
    wanted = {}
    for row in sheet.rows:
        values = row.values
        resolution = catalog.resolve(values.get("model", ""))
        if resolution.model is None:
            errors.append(RowError(row.line, "model", resolution.error))
        try:
            price = money_parse(values.get("price", ""))
        except ValueError as exc:
            errors.append(RowError(row.line, "price", str(exc)))
        currency = (values.get("currency") or "").strip().upper()
        if currency not in currency_codes():
            errors.append(RowError(row.line, "currency", f"{currency!r} is not an ISO 4217 currency code"))
        source = (values.get("source") or "").strip()
        problem = text_problem(source, multiline=False) if source else ""
        if problem or len(source) > 200:
            errors.append(RowError(row.line, "source", problem or "at most 200 characters"))
        if resolution.model is not None:
            if resolution.model.pk in wanted:
                errors.append(RowError(row.line, "model", f"{resolution.model.name} is priced twice (line "
                                                          f"{wanted[resolution.model.pk][0]})"))
            elif not any(e.line == row.line for e in errors):
                wanted[resolution.model.pk] = (row.line, resolution.model, price, currency, source)
    if errors:
        raise IntakeRejected(errors)
    created = updated = 0
    with transaction.atomic():
        for _, model, price, currency, source in wanted.values():
            _, is_new = ReferencePrice.objects.update_or_create(
                gpu_model=model, defaults={"price": price, "currency": currency, "source": source})
            created, updated = created + is_new, updated + (not is_new)
    return created, updated

