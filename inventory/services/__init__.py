"""Inventory services: every write goes through one of these functions, whatever the face (API, CLI, admin)."""

from .catalog import CatalogIndex, catalog_load, uncatalogued_model
from .inspections import inspection_record
from .intake import (
    CsvSheet,
    IntakeRow,
    intake_import,
    intake_parse_csv,
    intake_read_csv,
    intake_read_upload,
    intake_validate,
)
from .lots import lot_allocate_costs, lot_cost_warnings, lot_create, lot_update, lot_validate
from .units import (
    unit_decide,
    unit_event_record,
    unit_moves_for,
    unit_record,
    unit_repair_record,
    unit_stated_fields_check,
    unit_transition,
    unit_update,
)

__all__ = [
    "CatalogIndex",
    "CsvSheet",
    "IntakeRow",
    "catalog_load",
    "inspection_record",
    "intake_import",
    "intake_parse_csv",
    "intake_read_csv",
    "intake_read_upload",
    "intake_validate",
    "lot_allocate_costs",
    "lot_cost_warnings",
    "lot_create",
    "lot_update",
    "uncatalogued_model",
    "lot_validate",
    "unit_decide",
    "unit_event_record",
    "unit_moves_for",
    "unit_record",
    "unit_stated_fields_check",
    "unit_repair_record",
    "unit_transition",
    "unit_update",
]
