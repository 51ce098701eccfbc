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


class SetStatus(models.TextChoices):
    OPEN = "open", "open"
    SOLD = "sold", "sold"
    DISSOLVED = "dissolved", "dissolved"


class SpecificSource(models.TextChoices):
    """The facts of a listing that an eBay item specific can be filled from (resale/exports.py says how)."""

    BOARD_VENDOR = "board_vendor", "board maker (MSI, EVGA…)"
    CHIP_VENDOR = "chip_vendor", "chipset maker (NVIDIA)"
    GPU_MODEL = "gpu_model", "GPU model (GeForce RTX 3080)"
    MEMORY_SIZE = "memory_size", "memory size (10 GB)"
    MEMORY_TYPE = "memory_type", "memory type (GDDR6X)"
    SLOT = "slot", "compatible slot (PCI Express 4.0 x16)"
    COOLING = "cooling", "cooling (fan or heatsink)"
    PART_NUMBER = "part_number", "board part number"
    NONE = "none", "left empty"


OPEN_STATUSES = (ListingStatus.DRAFT, ListingStatus.ACTIVE)  # a listing that may still sell
WARRANTY_DAYS = (0, 30, 90, 365)
