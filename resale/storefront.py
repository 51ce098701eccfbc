"""The public storefront's reads: active listings on the own storefront, filtered, sorted and paged on the facts each
listing keeps of its cards when it is made (model, VRAM, worst grade, what fits for AI, bandwidth), so a page costs
the same few queries at any stock size. Only public facts: no cost, floor, lot, supplier, note or bench."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.core.paginator import Paginator
from django.db.models import Prefetch

from grading.models import Certificate, CertificateStatus
from inventory.models import GpuModel

from .choices import Channel, ListingStatus
from .models import ListedUnit, Listing

PAGE_SIZE = 24
STORE_CHANNELS = (Channel.STOREFRONT, Channel.GOOGLE)  # Google's feed links to the storefront's pages
GRADE_AT_LEAST = {"F-A": ("F-A",), "F-B": ("F-A", "F-B"), "F-C": ("F-A", "F-B", "F-C")}
# "Fits a 13B model at INT4": the largest model (billions of parameters) that fits each card of the listing.
FITS = {"7b-fp16": ("fits_fp16_b", 7, "a 7B model at FP16"), "13b-int8": ("fits_int8_b", 13, "a 13B model at INT8"),
        "13b-int4": ("fits_int4_b", 13, "a 13B model at INT4"), "30b-int4": ("fits_int4_b", 30, "a 30B model at INT4"),
        "70b-int4": ("fits_int4_b", 70, "a 70B model at INT4")}
# "Measured 7B FP16 decode ≥ 30 tok/s": what the ai check measured on the slowest card of the listing.
DECODE_AT_LEAST = (20, 30, 50, 100)
SORTS = {"price": ("price", "id"), "-price": ("-price", "-id"), "newest": ("-published_at", "-id"),
         "vram": ("-vram_gib", "price", "id"), "bandwidth": ("-bandwidth_gbs", "price", "id")}
SORT_LABELS = {"newest": "newest first", "price": "price, low to high", "-price": "price, high to low",
               "vram": "most memory", "bandwidth": "fastest memory"}


class StoreFilter(forms.Form):
    model = forms.ChoiceField(required=False)
    vram = forms.ChoiceField(required=False, label="memory",
                             choices=[("", "any")] + [(str(v), f"{v} GB or more") for v in (8, 10, 12, 16, 24, 48, 80)])
    grade = forms.ChoiceField(required=False, choices=[("", "any"), ("F-A", "F-A only"), ("F-B", "F-B or better"),
                                                       ("F-C", "F-C or better")])
    price_min = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2, label="price from")
    price_max = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2, label="price up to")
    fits = forms.ChoiceField(required=False, label="fits",
                             choices=[("", "any")] + [(k, label) for k, (_, _, label) in FITS.items()])
    decode = forms.ChoiceField(required=False, label="measured decode",
                               choices=[("", "any")] + [(str(v), f"7B FP16 ≥ {v} tok/s") for v in DECODE_AT_LEAST])
    sets = forms.BooleanField(required=False, label="matched sets only")
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        models = (GpuModel.objects.filter(pk__in=Listing.objects.filter(status=ListingStatus.ACTIVE,
                                                                         channel=Channel.STOREFRONT)
                                          .values("gpu_model_id")).order_by("name"))
        self.fields["model"].choices = [("", "any")] + [(m.slug, m.name) for m in models]

    def clean(self):
        data = super().clean()
        low, high = data.get("price_min"), data.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", "the upper price is below the lower one")
        return data


@dataclass
class StorePage:
    form: StoreFilter
    page: object  # django.core.paginator.Page
    total: int


def store_listings(params) -> StorePage:
    form = StoreFilter(params)
    listings = Listing.objects.filter(status=ListingStatus.ACTIVE, channel=Channel.STOREFRONT)
    if form.is_valid():
        data = form.cleaned_data
        if data["model"]:
            listings = listings.filter(gpu_model__slug=data["model"])
        if data["vram"]:
            listings = listings.filter(vram_gib__gte=int(data["vram"]))
        if data["grade"]:
            listings = listings.filter(functional__in=GRADE_AT_LEAST[data["grade"]])
        if data["price_min"] is not None:
            listings = listings.filter(price__gte=data["price_min"])
        if data["price_max"] is not None:
            listings = listings.filter(price__lte=data["price_max"])
        if data["fits"]:
            field, size, _ = FITS[data["fits"]]
            listings = listings.filter(**{f"{field}__gte": size})
        if data["decode"]:
            listings = listings.filter(decode_7b_fp16_tps__gte=int(data["decode"]))
        if data["sets"]:
            listings = listings.filter(matched_set__isnull=False)
        order = SORTS[data["sort"] or "newest"]
        page_number = data["page"] or 1
    else:
        listings, order, page_number = listings.none(), SORTS["newest"], 1
    listings = listings.select_related("gpu_model").order_by(*order)
    paginator = Paginator(listings, PAGE_SIZE)
    page = paginator.get_page(page_number)
    return StorePage(form=form, page=page, total=paginator.count)


def store_listing(listing_id: int) -> tuple[Listing | None, list[dict]]:
    """A listing the storefront shows (active, or ended: the page says so), with each card's public facts from its
    valid certificate (signed: what the buyer can check)."""
    listing = (Listing.objects.filter(pk=listing_id, channel__in=STORE_CHANNELS)
               .select_related("gpu_model", "matched_set")
               .prefetch_related(Prefetch("items", ListedUnit.objects.select_related("unit"))).first())
    if listing is None:
        return None, []
    units = [item.unit for item in listing.items.all()]
    certificates = {c.unit_id: c for c in Certificate.objects.filter(unit__in=units, status=CertificateStatus.VALID)
                    .order_by("-issued_at")}
    cards = []
    for unit in units:
        certificate = certificates.get(unit.pk)
        payload = certificate.payload if certificate else {}
        checks = {c.get("name"): c for c in (payload.get("test") or {}).get("checks", [])}
        cards.append({"asset_tag": unit.asset_tag, "certificate": certificate, "payload": payload, "checks": checks})
    return listing, cards
