from django.db import models


class Channel(models.TextChoices):
    STOREFRONT = "storefront", "own storefront"
    EBAY = "ebay", "eBay"
    BACKMARKET = "backmarket", "Back Market"
    GOOGLE = "google", "Google Shopping feed"
    OTHER = "other", "other"


class ListingStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    ACTIVE = "active", "active"
    SOLD = "sold", "sold"
    WITHDRAWN = "withdrawn", "withdrawn"


OPEN_STATUSES = (ListingStatus.DRAFT, ListingStatus.ACTIVE)  # a listing that may still sell
WARRANTY_DAYS = (0, 30, 90, 365)
