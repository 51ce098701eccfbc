"""A listing offers one card, or a matched set of cards, on one channel. A card may be listed on several channels at
once and sells once: resale/services.py keeps that, with the unit rows locked."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from inventory.models import MONEY, Unit
from inventory.validators import BLOCK_TEXT, LINE_TEXT, currency_validator

from .choices import Channel, ListingStatus, SetStatus, SpecificSource


class Listing(models.Model):
    channel = models.CharField(max_length=16, choices=Channel.choices, validators=[LINE_TEXT])
    status = models.CharField(max_length=12, choices=ListingStatus.choices, default=ListingStatus.DRAFT,
                              validators=[LINE_TEXT])
    title = models.CharField(max_length=200, validators=[LINE_TEXT])
    description = models.TextField(blank=True, validators=[BLOCK_TEXT])
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, validators=[LINE_TEXT])
    warranty_days = models.PositiveSmallIntegerField(default=30)
    return_days = models.PositiveSmallIntegerField(default=30)
    external_id = models.CharField(max_length=64, blank=True, validators=[LINE_TEXT],
                                   help_text="The channel's own id for this listing, once published there")
    image_url = models.URLField(blank=True, help_text="A photo of the card for marketplaces that need one (Google)")
    matched_set = models.ForeignKey("MatchedSet", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="listings")
    condition = models.JSONField(default=dict, blank=True,
                                 help_text="The channel's condition from the grading policy: {id, name}")
    pricing_version = models.CharField(max_length=32, blank=True, validators=[LINE_TEXT])
    suggested_price = models.DecimalField(null=True, blank=True, max_digits=12, decimal_places=2)
    floor_price = models.DecimalField(null=True, blank=True, max_digits=12, decimal_places=2,
                                      help_text="Cost + the channel's fees + the minimum margin")
    cost = models.DecimalField(null=True, blank=True, max_digits=12, decimal_places=2,
                               help_text="The cards' cost basis, summed (internal)")
    # What the storefront filters and sorts on, kept from the cards when the listing is made (a certified card's
    # grade and figures do not change while it is on offer: a retest supersedes its certificate and ends its
    # listings), so a storefront page reads one table.
    gpu_model = models.ForeignKey("inventory.GpuModel", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    card_count = models.PositiveSmallIntegerField(default=1)
    vram_gib = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    functional = models.CharField(max_length=4, blank=True, help_text="The worst card's", validators=[LINE_TEXT])
    cosmetic = models.CharField(max_length=1, blank=True, help_text="The worst card's", validators=[LINE_TEXT])
    bandwidth_gbs = models.FloatField(null=True, blank=True, help_text="The slowest card's, measured")
    fits_fp16_b = models.FloatField(null=True, blank=True, help_text="Largest model (billions) at FP16, every card")
    fits_int8_b = models.FloatField(null=True, blank=True)
    fits_int4_b = models.FloatField(null=True, blank=True)
    decode_7b_fp16_tps = models.FloatField(
        null=True, blank=True, help_text="Measured 7B FP16 decode, one stream (tokens/s), the slowest card's; empty "
        "where a card was not measured or the model does not fit it whole")
    units = models.ManyToManyField("inventory.Unit", through="ListedUnit", related_name="listings")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True, validators=[LINE_TEXT])

    class Meta:
        ordering = ["-created_at", "-id"]
        # The storefront's filters and sorts (status and channel first: listing_store_price also serves a plain
        # status and channel filter), and the admin's and API's default order, newest first.
        indexes = [models.Index(fields=["status", "channel", "price"], name="listing_store_price"),
                   models.Index(fields=["created_at", "id"], name="listing_created_idx"),
                   models.Index(fields=["status", "channel", "-published_at"], name="listing_store_newest")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} listing {self.pk} ({self.status})"


class ListedUnit(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="items")
    unit = models.ForeignKey("inventory.Unit", on_delete=models.PROTECT, related_name="listed_in")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["listing", "unit"], name="listed_unit_once_per_listing")]

    def __str__(self) -> str:
        return f"{self.unit_id} in listing {self.listing_id}"


class Stock(Unit):
    """Certified and listed cards as the reseller sees them (resale.admin.StockAdmin): what there is to sell."""

    class Meta:
        proxy = True
        verbose_name = "card for sale"
        verbose_name_plural = "stock for sale"


class ReferencePrice(models.Model):
    """What a card of this model fetches in the best grade (F-A, cosmetic A) on the own storefront: the base of every
    suggested price. Entered in the admin or imported from CSV (`manage.py import_reference_prices`)."""

    gpu_model = models.OneToOneField("inventory.GpuModel", on_delete=models.PROTECT, related_name="reference_price")
    price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator, LINE_TEXT])
    source = models.CharField(max_length=200, blank=True, help_text="Where the figure comes from, e.g. sold listings",
                              validators=[LINE_TEXT])
    backmarket_product_id = models.CharField(max_length=64, blank=True, validators=[LINE_TEXT],
                                             help_text="Back Market's product id for this model (its listing CSV)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["gpu_model__name"]

    def __str__(self) -> str:
        return f"{self.gpu_model}: {self.price} {self.currency}"


class PricingPolicy(models.Model):
    """A version of the pricing rules (resale/pricing.py says what the keys mean). Never edited: a change is a new
    version, and each listing records the version its suggestion and floor came from, as grades do."""

    version = models.CharField(max_length=32, unique=True, validators=[LINE_TEXT])
    rules = models.JSONField()
    note = models.CharField(max_length=200, blank=True, validators=[LINE_TEXT])
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "pricing policies"

    def __str__(self) -> str:
        return self.version


class MatchedSet(models.Model):
    """2–8 certified cards of one model whose measured memory bandwidth and FP16 throughput all lie within
    `tolerance` of the set's median, and whose VRAM tests passed: sold as one. A card is in one open set at most."""

    gpu_model = models.ForeignKey("inventory.GpuModel", on_delete=models.PROTECT, related_name="+")
    tolerance = models.DecimalField(max_digits=5, decimal_places=4, help_text="Share of the median, e.g. 0.03")
    spread = models.DecimalField(max_digits=6, decimal_places=4,
                                 help_text="The farthest card from the median, on either figure, as a share")
    figures = models.JSONField(default=dict, help_text="Per figure: median, min, max, spread")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    status = models.CharField(max_length=10, choices=SetStatus.choices, default=SetStatus.OPEN, validators=[LINE_TEXT])
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True, validators=[LINE_TEXT])
    units = models.ManyToManyField("inventory.Unit", through="SetMember", related_name="matched_sets")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"set {self.pk} of {self.gpu_model_id}"


class SetMember(models.Model):
    matched_set = models.ForeignKey(MatchedSet, on_delete=models.CASCADE, related_name="members")
    unit = models.ForeignKey("inventory.Unit", on_delete=models.PROTECT, related_name="set_memberships")
    open = models.BooleanField(default=True, help_text="False once the set is sold or dissolved")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["unit"], condition=models.Q(open=True), name="set_member_one_open_set"),
            models.UniqueConstraint(fields=["matched_set", "unit"], name="set_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} in set {self.matched_set_id}"


class PriceChange(models.Model):
    """Every price a listing has had: who, when, from what, to what and why. Append-only."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="price_changes")
    from_price = models.DecimalField(null=True, blank=True, max_digits=12, decimal_places=2)
    to_price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, validators=[LINE_TEXT])
    floor = models.DecimalField(max_digits=12, decimal_places=2, help_text="The floor when the price was set")
    below_floor = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True, validators=[LINE_TEXT])
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    actor_label = models.CharField(max_length=150, blank=True, validators=[LINE_TEXT])
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"listing {self.listing_id}: {self.from_price} → {self.to_price}"


class Order(models.Model):
    """A sale: one listing sold on its channel. The buyer is a reference only (the channel's order number, or a
    name and town for shipping where the own storefront sold it): no more personal data than a shipment needs."""

    listing = models.OneToOneField(Listing, on_delete=models.PROTECT, related_name="order")
    channel = models.CharField(max_length=16, choices=Channel.choices, validators=[LINE_TEXT])
    buyer_reference = models.CharField(max_length=100, blank=True, validators=[LINE_TEXT])
    price_paid = models.DecimalField(**MONEY)
    fees = models.DecimalField(default=0, **MONEY)
    shipping = models.DecimalField(default=0, **MONEY)
    currency = models.CharField(max_length=3, validators=[LINE_TEXT])
    sold_at = models.DateTimeField(default=timezone.now, db_index=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")

    class Meta:
        ordering = ["-sold_at", "-id"]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.get_channel_display()})"


class OrderLine(models.Model):
    """One card of an order, with the serial it left with: what a return is checked against."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    unit = models.ForeignKey("inventory.Unit", on_delete=models.PROTECT, related_name="order_lines")
    serial_at_sale = models.CharField(max_length=64, blank=True, validators=[LINE_TEXT])
    cost_basis = models.DecimalField(null=True, blank=True, max_digits=12, decimal_places=2,
                                     help_text="The card's cost basis when it sold")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "unit"], name="order_line_once")]

    def __str__(self) -> str:
        return f"{self.unit_id} in order {self.order_id}"


class ReturnReason(models.TextChoices):
    DOA = "doa", "dead on arrival"
    ARTIFACTS = "artifacts", "artifacts or crashes"
    FAN_NOISE = "fan_noise", "fan noise"
    NOT_AS_DESCRIBED = "not_as_described", "not as described"
    REMORSE = "remorse", "buyer's remorse"


class CardReturn(models.Model):
    """A card come back from its buyer (an RMA): the serial scanned matched the serial sold."""

    line = models.OneToOneField(OrderLine, on_delete=models.PROTECT, related_name="card_return")
    reason = models.CharField(max_length=20, choices=ReturnReason.choices, validators=[LINE_TEXT])
    scanned_serial = models.CharField(max_length=64, validators=[LINE_TEXT])
    refund = models.DecimalField(default=0, **MONEY, help_text="Paid back to the buyer")
    cost = models.DecimalField(default=0, **MONEY, help_text="Shipping and handling the return cost")
    notes = models.TextField(blank=True, validators=[BLOCK_TEXT])
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"return of {self.line.unit_id} ({self.reason})"


class EbaySpecific(models.Model):
    """One item specific of the eBay upload: its column name (eBay renames them; edit the name here) and which fact
    of the card fills it. The export writes them in `position` order."""

    column = models.CharField(max_length=64, unique=True, validators=[LINE_TEXT],
                              help_text="The column heading eBay expects, e.g. C:Memory Size")
    source = models.CharField(max_length=32, choices=SpecificSource.choices, validators=[LINE_TEXT])
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.column
