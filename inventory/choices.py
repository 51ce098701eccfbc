"""Named values for inventory fields. Groups of states have names too, so callers never list them by hand."""

from django.db import models


class UnitState(models.TextChoices):
    RECEIVED = "received", "Received"
    INSPECTED = "inspected", "Inspected"
    QUEUED = "queued", "Queued for test"
    TESTING = "testing", "Testing"
    TESTED = "tested", "Tested"
    FAILED = "failed", "Failed"
    REPAIR = "repair", "In repair"
    GRADED = "graded", "Graded"
    CERTIFIED = "certified", "Certified"
    LISTED = "listed", "Listed"
    SOLD = "sold", "Sold"
    RETURNED = "returned", "Returned"
    ON_HOLD = "on_hold", "On hold"
    SCRAPPED = "scrapped", "Scrapped"


# States in which a reason must be given, because someone will later ask why.
class EventKind(models.TextChoices):
    """What a unit event records. Most are lifecycle moves; the others leave the state as it was."""

    RECEIVED = "received", "taken in"
    TRANSITION = "transition", "state change"  # a person's move
    INSPECTED = "inspected", "inspected"
    RUN_QUEUED = "run_queued", "test run queued"
    RUN_STARTED = "run_started", "test run started"
    RUN_FINISHED = "run_finished", "test run finished"
    RUN_ENDED = "run_ended", "test run cancelled or interrupted"
    GRADE_RECORDED = "grade_recorded", "graded"
    GRADE_OVERRIDE = "grade_override", "grade overridden"
    CERTIFICATE_ISSUED = "certificate_issued", "certificate issued"
    CERTIFICATE_REVOKED = "certificate_revoked", "certificate revoked"
    CERTIFICATE_SUPERSEDED = "certificate_superseded", "certificate superseded"
    LISTING_PUBLISHED = "listing_published", "listed on a channel"
    LISTING_WITHDRAWN = "listing_withdrawn", "withdrawn from a channel"
    SOLD = "sold", "sold"
    EDITED = "edited", "details edited"
    REPAIRED = "repaired", "repaired"


class RepairAction(models.TextChoices):
    """What a repair bench did to a card (a repair record: the card goes back to test after it)."""

    REPASTE = "repaste", "thermal paste renewed"
    REPAD = "repad", "thermal pads replaced"
    FAN = "fan_replaced", "fan replaced"
    VBIOS = "vbios_reflashed", "stock VBIOS reflashed"
    OTHER = "other", "other (described in the note)"


REASON_REQUIRED_STATES = frozenset({UnitState.ON_HOLD, UnitState.SCRAPPED, UnitState.RETURNED, UnitState.REPAIR})


class CosmeticGrade(models.TextChoices):
    A = "A", "A: like new"
    B = "B", "B: light wear"
    C = "C", "C: visible wear"
    D = "D", "D: heavy wear"


# The written definitions technicians grade against (shown in the admin, the API schema and docs).
COSMETIC_GRADE_DEFINITIONS = {
    CosmeticGrade.A: "No visible marks on shroud, backplate or PCB; fans, fins and bracket straight and clean "
    "after cleaning; all screws and parts present.",
    CosmeticGrade.B: "Fine scuffs or dust staining that cleaning did not remove, no cracks, no bent "
    "fins, no missing screws.",
    CosmeticGrade.C: "Scratches, heat discolouration, a few bent fins, a replaced or mismatched fan "
    "or screw; nothing that affects function.",
    CosmeticGrade.D: "Cracked or damaged shroud or backplate, corrosion traces, missing non-essential "
    "parts; sold on function only.",
}


class FanCondition(models.TextChoices):
    OK = "ok", "OK"
    NOISY = "noisy", "Noisy (bearing or rattle)"
    FAILED = "failed", "Failed (does not spin)"


class ThermalMaterial(models.TextChoices):
    ORIGINAL = "original", "Original"
    REPLACED = "replaced", "Replaced"


class GpuVendor(models.TextChoices):
    NVIDIA = "nvidia", "NVIDIA"
    AMD = "amd", "AMD"


class GpuSegment(models.TextChoices):
    CONSUMER = "consumer", "Consumer"
    MINING = "mining", "Mining (headless)"
    WORKSTATION = "workstation", "Workstation"
    DATACENTER = "datacenter", "Data centre"
    # A model a bench met that the catalog does not list: described by the card itself, without datasheet figures.
    UNCATALOGUED = "uncatalogued", "Not in the catalog"
