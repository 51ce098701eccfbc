"""A listing offers one card, or a matched set of cards, on one channel. A card may be listed on several channels at
once and sells once: resale/services.py keeps that, with the unit rows locked."""

from django.core.validators import MinValueValidator
from django.db import models

from inventory.validators import BLOCK_TEXT, LINE_TEXT

from .choices import Channel, ListingStatus


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
    units = models.ManyToManyField("inventory.Unit", through="ListedUnit", related_name="listings")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True, validators=[LINE_TEXT])

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "channel"], name="listing_status_channel")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} listing {self.pk} ({self.status})"


class ListedUnit(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="items")
    unit = models.ForeignKey("inventory.Unit", on_delete=models.PROTECT, related_name="listed_in")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["listing", "unit"], name="listed_unit_once_per_listing")]

    def __str__(self) -> str:
        return f"{self.unit_id} in listing {self.listing_id}"
