"""The reseller's admin: stock for sale with bulk actions (propose and make matched sets, list on a channel at the
suggested price), listings with bulk actions (publish, price by rule, withdraw, mark sold, export), sets, orders,
returns and the pricing tables. Every action calls resale.services; each card or listing that an action refuses is
named in a message, the others go ahead. Costs and margins show only to users who may see costs."""

from __future__ import annotations

from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Exists, OuterRef
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import FilterSetAdmin, ReadOnlyAdmin
from core.errors import DomainError, InvalidInput
from grading.models import Certificate, Grade
from inventory.choices import UnitState
from inventory.models import GpuModel, Lot, Unit
from inventory.roles import can_see_costs

from .choices import Channel, ListingStatus
from .exports import backmarket_csv, json_feed
from .filtersets import ListingFilterSet
from .models import (
    CardReturn,
    EbaySpecific,
    ListedUnit,
    Listing,
    MatchedSet,
    Order,
    OrderLine,
    PriceChange,
    PricingPolicy,
    ReferencePrice,
    SetMember,
    Stock,
)
from .pricing import DEFAULT_RULES, margin_at, rules_problems
from .selectors import cards_facts
from .services import (
    listing_create,
    listing_price_set,
    listing_publish,
    listing_quote,
    listing_sell,
    listing_withdraw,
    pricing_rules_current,
    reference_prices,
    set_create,
    sets_propose,
)
from .services.exports import export_items


def _each(modeladmin, request, objects, act, done_word: str) -> None:
    """Run `act` on each object in its own transaction: the refused are named, the rest go ahead."""
    done, refused = 0, []
    for obj in objects:
        try:
            act(obj)
            done += 1
        except DomainError as exc:
            refused.append(f"{obj}: {exc}")
    if done:
        modeladmin.message_user(request, f"{done} {done_word}.", messages.SUCCESS)
    for line in refused[:20]:
        modeladmin.message_user(request, line, messages.ERROR)
    if len(refused) > 20:
        modeladmin.message_user(request, f"… and {len(refused) - 20} more refused.", messages.ERROR)


# --- stock for sale: certified and listed cards ------------------------------------------------------------------

AI_CLASSES = {  # (precision, billions of parameters that must fit)
    "7b-fp16": ("fp16", 7), "13b-int8": ("int8", 13), "13b-int4": ("int4", 13), "30b-int4": ("int4", 30),
    "70b-int4": ("int4", 70),
}


class AiClassFilter(admin.SimpleListFilter):
    title = "AI-readiness"
    parameter_name = "fits"

    def lookups(self, request, model_admin):
        return [(key, f"fits {size}B at {precision.upper()}") for key, (precision, size) in AI_CLASSES.items()]

    def queryset(self, request, queryset):
        if self.value() not in AI_CLASSES:
            return queryset
        precision, size = AI_CLASSES[self.value()]
        fitting = Grade.objects.filter(is_current=True, **{f"ai__largest_model_billions__{precision}__gte": size})
        fitting = fitting.values("unit_id")
        return queryset.filter(pk__in=fitting)


class ForSaleStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("certified", "certified, not on offer"), ("listed", "listed")]

    def queryset(self, request, queryset):
        return queryset.filter(state=self.value()) if self.value() in ("certified", "listed") else queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age in stock"
    parameter_name = "age"
    BANDS = {"0-30": (0, 30), "31-90": (31, 90), "91-180": (91, 180), "181+": (181, None)}

    def lookups(self, request, model_admin):
        return [(key, f"{key} days") for key in self.BANDS]

    def queryset(self, request, queryset):
        if self.value() not in self.BANDS:
            return queryset
        low, high = self.BANDS[self.value()]
        now = timezone.now()
        queryset = queryset.filter(received_at__lte=now - timezone.timedelta(days=low))
        return queryset.filter(received_at__gt=now - timezone.timedelta(days=high + 1)) if high else queryset


FOR_SALE = (UnitState.CERTIFIED, UnitState.LISTED)


class GradeFilter(admin.SimpleListFilter):
    title = "grade"
    parameter_name = "grade"

    def lookups(self, request, model_admin):
        return [(g, g) for g in ("F-A", "F-B", "F-C")]

    def queryset(self, request, queryset):
        if self.value() not in ("F-A", "F-B", "F-C"):
            return queryset
        return queryset.filter(pk__in=Grade.objects.filter(is_current=True, functional=self.value()).values("unit_id"))


class _InStockFilter(admin.SimpleListFilter):
    """The models (or lots) that have cards for sale: one probe per model or lot on the card's foreign-key index,
    where the admin's related-only filter reads every card for sale (55 ms at 100 000 cards)."""

    related_model = None

    def lookups(self, request, model_admin):
        in_stock = Exists(Unit.objects.filter(**{self.parameter_name.split("__")[0]: OuterRef("pk")},
                                              state__in=FOR_SALE))
        return [(str(pk), label) for pk, label in self.choices_of(self.related_model.objects.filter(in_stock))]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.parameter_name: int(value)}) if value and value.isdigit() else queryset


class StockModelFilter(_InStockFilter):
    title = "model"
    parameter_name = "gpu_model__id__exact"
    related_model = GpuModel

    def choices_of(self, models):
        return models.order_by("name").values_list("pk", "name")


class StockLotFilter(_InStockFilter):
    title = "lot"
    parameter_name = "lot__id__exact"
    related_model = Lot

    def choices_of(self, lots):
        return lots.order_by("-created_at", "-id").values_list("pk", "reference")


def _list_on(channel: str):
    def action(modeladmin, request, queryset):
        _each(modeladmin, request, queryset, lambda unit: listing_create(units=[unit], channel=channel,
                                                                         actor=request.user),
              f"draft listing(s) on {Channel(channel).label} at the suggested price")

    action.__name__ = f"list_on_{channel}"
    action.short_description = f"List on {Channel(channel).label} (draft, suggested price)"
    return action


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    """Certified and listed cards: what there is to sell."""

    list_display = ["tag", "gpu_model", "grade", "state", "age_days", "cost", "suggested", "listings_open"]
    list_display_links = ["tag"]
    list_filter = [ForSaleStateFilter, StockModelFilter, GradeFilter, StockLotFilter, AiClassFilter, AgeFilter]
    search_fields = ["asset_tag", "serial"]
    list_select_related = ["gpu_model", "lot"]
    actions = ["propose_sets", "make_set", *(_list_on(c) for c in Channel.values)]

    show_full_result_count = False  # a second count of all stock on every page, for "(N total)"

    def get_queryset(self, request):
        # No join: the page's grades, prices and open listings are read for its cards only (get_changelist_instance).
        return super().get_queryset(request).filter(state__in=FOR_SALE)

    def get_list_display(self, request):
        shown = list(self.list_display)
        return shown if can_see_costs(request.user) else [c for c in shown if c != "cost"]

    def get_changelist_instance(self, request):
        # The page's suggested prices and open listings, read for the page's cards at once (a fixed number of
        # queries per page) and kept on each card object (this admin serves every request, so nothing on self).
        changelist = super().get_changelist_instance(request)
        cards = list(changelist.result_list)
        facts = cards_facts([unit.pk for unit in cards])
        rules, references = pricing_rules_current(), reference_prices(unit.gpu_model_id for unit in cards)
        open_counts = Counter(ListedUnit.objects.filter(unit__in=cards, listing__status__in=(
            ListingStatus.DRAFT, ListingStatus.ACTIVE)).values_list("unit_id", flat=True))
        for unit in cards:
            unit.open_listings = open_counts[unit.pk]
            unit.suggested_text = "–"
            card = facts.get(unit.pk)
            unit.grade_text = f"{card.functional or '–'}/{card.cosmetic or '–'}" if card else "–/–"
            if card is not None and card.functional:
                quote = listing_quote([card], channel="storefront", currency=unit.lot.currency, rules=rules,
                                      references=references)
                unit.suggested_text = (f"{quote.suggested} {quote.currency}" if quote.suggested is not None
                                       else "no reference price")
        return changelist

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="asset tag", ordering="asset_tag")
    def tag(self, unit):
        return format_html('<span style="white-space:nowrap;font-family:monospace">{}</span>', unit.asset_tag)

    @admin.display(description="grade")
    def grade(self, unit):
        return getattr(unit, "grade_text", "–/–")

    @admin.display(description="days in stock", ordering="received_at")
    def age_days(self, unit):
        return (timezone.now() - unit.received_at).days

    @admin.display(description="cost", ordering="cost_basis")
    def cost(self, unit):
        return unit.cost_basis

    @admin.display(description="suggested (storefront)")
    def suggested(self, unit):
        return getattr(unit, "suggested_text", "–")

    @admin.display(description="open listings")
    def listings_open(self, unit):
        return getattr(unit, "open_listings", "–")

    @admin.action(description="Propose matched sets from the selected cards (±3 %%)")
    def propose_sets(self, request, queryset):
        chosen = set(queryset.values_list("pk", flat=True))
        proposals = [p for p in sets_propose() if set(p.unit_ids) <= chosen]
        if not proposals:
            self.message_user(request, "No set within ±3 % among the selected certified cards.", messages.WARNING)
        for proposal in proposals[:30]:
            self.message_user(request, f"{len(proposal.cards)} × {proposal.gpu_model.name} within "
                                       f"{proposal.spread:.1%}: {', '.join(c.asset_tag for c in proposal.cards)}",
                              messages.INFO)

    @admin.action(description="Make a matched set of the selected cards")
    def make_set(self, request, queryset):
        try:
            matched = set_create(units=list(queryset), actor=request.user)
        except DomainError as exc:
            self.message_user(request, f"No set made: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Set {matched.pk} made: {matched.units.count()} cards within "
                                   f"{float(matched.spread):.1%}.", messages.SUCCESS)


# --- listings ----------------------------------------------------------------------------------------------------

class ListedUnitInline(admin.TabularInline):
    model = ListedUnit
    fields = ["unit"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class PriceChangeInline(admin.TabularInline):
    model = PriceChange
    fields = ["changed_at", "from_price", "to_price", "floor", "below_floor", "reason", "changed_by", "actor_label"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Listing)
class ListingAdmin(FilterSetAdmin):
    filterset_class = ListingFilterSet
    list_display = ["id", "channel", "status", "title_shown", "price_shown", "floor_price", "margin", "cards",
                    "published_at"]
    list_filter = ["channel", "status", "currency"]
    search_fields = ["title", "external_id", "items__unit__asset_tag"]
    inlines = [ListedUnitInline, PriceChangeInline]
    fields = ["channel", "status", "title", "description", "price", "currency", "condition", "warranty_days",
              "return_days", "external_id", "image_url", "matched_set", "suggested_price", "floor_price", "cost",
              "pricing_version", "published_at", "ended_at", "end_reason"]
    readonly_fields = fields
    actions = ["publish", "price_by_rule", "withdraw", "mark_sold", "export_json", "export_backmarket"]

    def get_list_display(self, request):
        shown = list(self.list_display)
        return shown if can_see_costs(request.user) else [c for c in shown if c not in ("floor_price", "margin")]

    def get_fields(self, request, obj=None):
        shown = list(self.fields)
        return shown if can_see_costs(request.user) else [f for f in shown if f not in ("floor_price", "cost")]

    def get_changelist_instance(self, request):
        # Each listing's margin under the current rules, read once per page and kept on the page's objects.
        changelist = super().get_changelist_instance(request)
        rules = pricing_rules_current()
        for listing in changelist.result_list:
            listing.margin_now = (margin_at(rules, listing.channel, listing.price, listing.cost)
                                  if listing.cost is not None else "–")
        return changelist

    def has_add_permission(self, request):
        return False  # listings are made from Stock (bulk actions) or the API, which write title, text and price

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("resale.change_listing") and obj is None  # the actions; the page is read-only

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="title", ordering="title")
    def title_shown(self, listing):
        return format_html('<span style="display:inline-block;min-width:22em">{}</span>', listing.title)

    @admin.display(description="price", ordering="price")
    def price_shown(self, listing):
        return format_html('<span style="white-space:nowrap">{} {}</span>', listing.price, listing.currency)

    @admin.display(description="margin")
    def margin(self, listing):
        return getattr(listing, "margin_now", "–")

    @admin.display(description="cards", ordering="card_count")
    def cards(self, listing):
        return listing.card_count  # kept on the listing when it is made

    @admin.action(description="Publish the selected drafts", permissions=["change"])
    def publish(self, request, queryset):
        _each(self, request, queryset, lambda lst: listing_publish(listing=lst, actor=request.user), "published")

    @admin.action(description="Price the selected listings by rule (the suggested price)", permissions=["change"])
    def price_by_rule(self, request, queryset):
        def reprice(listing):
            facts = list(cards_facts(listing.items.values_list("unit_id", flat=True)).values())
            quote = listing_quote(facts, channel=listing.channel, currency=listing.currency)
            if quote.suggested is None:
                raise InvalidInput({"price": [f"no reference price for {facts[0].gpu_model.name} in "
                                              f"{listing.currency}"]})
            listing_price_set(listing=listing, price=quote.suggested, reason="priced by rule", actor=request.user)

        _each(self, request, queryset, reprice, "priced by rule")

    @admin.action(description="Withdraw the selected listings", permissions=["change"])
    def withdraw(self, request, queryset):
        _each(self, request, queryset, lambda lst: listing_withdraw(
            listing=lst, reason=f"withdrawn in the admin by {request.user.get_username()}", actor=request.user),
            "withdrawn")

    @admin.action(description="Mark the selected listings sold (at their price)", permissions=["change"])
    def mark_sold(self, request, queryset):
        if not request.user.has_perm("resale.add_order"):
            self.message_user(request, "Recording a sale needs the permission to add orders.", messages.ERROR)
            return
        _each(self, request, queryset, lambda lst: listing_sell(listing=lst, actor=request.user), "sold")

    def _download(self, content: str, filename: str, content_type: str) -> HttpResponse:
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.action(description="Export the selected listings as JSON")
    def export_json(self, request, queryset):
        from grading.services import verify_url

        return self._download(json_feed(export_items(queryset.order_by("pk")), verify_url=verify_url),
                              "listings.json", "application/json")

    @admin.action(description="Export the selected listings as Back Market CSV")
    def export_backmarket(self, request, queryset):
        return self._download(backmarket_csv(export_items(queryset.order_by("pk"))), "backmarket.csv",
                              "text/csv; charset=utf-8")


# --- sets, orders, returns ---------------------------------------------------------------------------------------

class SetMemberInline(admin.TabularInline):
    model = SetMember
    fields = ["unit", "certificate", "open"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="certificate")
    def certificate(self, member):
        valid = Certificate.objects.filter(unit_id=member.unit_id, status="valid").first()
        if valid is None:
            return "–"
        return format_html('<a href="/verify/{}/">{}</a>', valid.public_id, valid.printed_id)


@admin.register(MatchedSet)
class MatchedSetAdmin(ReadOnlyAdmin):
    list_display = ["id", "gpu_model", "status", "size", "spread_shown", "created_at"]
    list_filter = ["status", ("gpu_model", admin.RelatedOnlyFieldListFilter)]
    inlines = [SetMemberInline]
    fields = ["gpu_model", "status", "tolerance", "spread", "figures_shown", "created_at", "ended_at", "end_reason"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(size=Count("members"))

    @admin.display(description="cards", ordering="size")
    def size(self, matched):
        return matched.size

    @admin.display(description="spread", ordering="spread")
    def spread_shown(self, matched):
        return f"{float(matched.spread):.2%}"

    @admin.display(description="measured")
    def figures_shown(self, matched):
        return format_html_join("", "<div>{}: median {}, {} – {} (±{})</div>", (
            (name, f["median"], f["min"], f["max"], f"{f['spread']:.2%}") for name, f in matched.figures.items()))


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ["unit", "serial_at_sale"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "listing", "price_paid", "fees", "shipping", "currency", "sold_at",
                    "buyer_reference"]
    list_filter = ["channel"]
    search_fields = ["buyer_reference", "lines__unit__asset_tag", "lines__serial_at_sale"]
    inlines = [OrderLineInline]


@admin.register(CardReturn)
class CardReturnAdmin(ReadOnlyAdmin):
    list_display = ["id", "line", "reason", "scanned_serial", "refund", "cost", "received_at"]
    list_filter = ["reason"]


# --- pricing tables ----------------------------------------------------------------------------------------------

@admin.register(ReferencePrice)
class ReferencePriceAdmin(admin.ModelAdmin):
    list_display = ["gpu_model", "price", "currency", "source", "backmarket_product_id", "updated_at"]
    list_editable = ["price", "source", "backmarket_product_id"]
    search_fields = ["gpu_model__name"]


class PricingPolicyForm(forms.ModelForm):
    class Meta:
        model = PricingPolicy
        fields = ["version", "note", "rules"]

    def clean_rules(self):
        rules = self.cleaned_data["rules"]
        problems = rules_problems(rules)
        if problems:
            raise forms.ValidationError(problems)
        return rules


@admin.register(PricingPolicy)
class PricingPolicyAdmin(admin.ModelAdmin):
    """Versions are added, never changed: a listing records the version it was priced under."""

    form = PricingPolicyForm
    list_display = ["version", "note", "created_at", "created_by"]
    fields = ["version", "note", "rules"]

    def get_readonly_fields(self, request, obj=None):
        return ["version", "note", "rules"] if obj else []

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changeform_initial_data(self, request):
        return {"rules": {k: v for k, v in DEFAULT_RULES.items() if k != "version"}}

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(EbaySpecific)
class EbaySpecificAdmin(admin.ModelAdmin):
    list_display = ["column", "source", "position"]
    list_editable = ["source", "position"]
