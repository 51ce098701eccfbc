"""Grading services: every write of grades and certificates goes through one of these functions."""

from .certificates import (
    certificate_by_public_id,
    certificate_issue,
    certificate_revoke,
    certificates_for_serial,
    public_id_normalize,
    verify_url,
)
from .grades import GRADABLE_STATES, OVERRIDABLE_STATES, grade_override, unit_grade

__all__ = [
    "GRADABLE_STATES",
    "OVERRIDABLE_STATES",
    "certificate_by_public_id",
    "certificate_issue",
    "certificate_revoke",
    "certificates_for_serial",
    "grade_override",
    "public_id_normalize",
    "unit_grade",
    "verify_url",
]
