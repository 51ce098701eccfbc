"""Typed events: one builder per kind owns its payload (inventory/events.py), and every service that changes a card
writes its kind in the same transaction, including grading a card that stays where it is."""

import ast
from pathlib import Path

import pytest

from inventory import events
from inventory.choices import EventKind, UnitState
from inventory.models import UnitEvent

ROOT = Path(__file__).resolve().parents[2]


def test_every_kind_has_one_builder_and_it_builds_that_kind():
    assert set(events.BUILDERS) == set(EventKind.values)
    samples = {
        EventKind.RECEIVED: {"lot": "L1", "line": 2, "source": "sheet.csv"},
        EventKind.TRANSITION: {}, EventKind.EDITED: {"changes": {"location": ["A", "B"]}},
        EventKind.INSPECTED: {"inspection_id": 1, "cosmetic_grade": "A", "fan_condition": "ok",
                              "pcie_connector_damage": False, "bracket_present": True, "photos": 0},
        EventKind.RUN_QUEUED: {"run_id": 1, "plan": "quick"}, EventKind.RUN_STARTED: {"run_id": 1},
        EventKind.RUN_FINISHED: {"run_id": 1, "verdict": "pass", "checks": {"vram": "pass"}},
        EventKind.RUN_ENDED: {"run_id": 1, "state": "cancelled"},
        EventKind.GRADE_RECORDED: {"grade_id": 1, "run_id": 1, "functional": "F-A", "codes": []},
        EventKind.GRADE_OVERRIDE: {"grade_id": 2, "overrides_id": 1, "from_grade": "FAIL", "to_grade": "F-B"},
        EventKind.CERTIFICATE_ISSUED: {"certificate_id": "X", "grade_id": 1, "key_id": "k"},
        EventKind.CERTIFICATE_REVOKED: {"certificate_id": "X"},
        EventKind.CERTIFICATE_SUPERSEDED: {"certificate_id": "X"},
        EventKind.LISTING_PUBLISHED: {"listing_id": 1, "channel": "ebay"},
        EventKind.LISTING_WITHDRAWN: {"listing_id": 1, "channel": "ebay"},
        EventKind.SOLD: {"listing_id": 1, "channel": "ebay", "price": "199.00", "currency": "EUR"},
        EventKind.REPAIRED: {"actions": ["repaste"], "note": "old paste dry"},
    }
    for kind, builder in events.BUILDERS.items():
        assert builder(**samples[kind]).kind == kind


def test_no_service_writes_a_kind_or_a_payload_by_hand():
    # Events are built only by inventory/events.py: no call passes kind= or payload= to the event writers.
    for path in [*ROOT.glob("inventory/**/*.py"), *ROOT.glob("testbench/**/*.py"), *ROOT.glob("grading/**/*.py")]:
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            writers = ("unit_transition", "unit_event_record", "unit_decide")
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in writers:
                assert not {k.arg for k in node.keywords} & {"kind", "payload"}, f"{path}:{node.lineno}"


@pytest.mark.django_db
def test_a_card_through_its_life_leaves_one_typed_event_per_decision(make_units, walk):
    unit = walk(make_units(1)[0], "certified")
    kinds = list(UnitEvent.objects.filter(unit=unit).order_by("id").values_list("kind", flat=True))
    assert kinds == ["received", "inspected", "run_queued", "run_started", "run_finished", "grade_recorded",
                     "certificate_issued"]
    finished = UnitEvent.objects.get(unit=unit, kind=EventKind.RUN_FINISHED)
    assert set(finished.payload) == {"run", "verdict", "checks"} and finished.payload["verdict"] == "pass"
    graded = UnitEvent.objects.get(unit=unit, kind=EventKind.GRADE_RECORDED)
    assert set(graded.payload) == {"grade", "run", "functional", "codes"}


@pytest.mark.django_db
def test_grading_a_card_that_stays_failed_is_still_an_event(make_units, walk):
    from grading.services import unit_grade

    unit = walk(make_units(1)[0], "failed")  # its run failed: the card is failed before it is graded
    before = UnitEvent.objects.filter(unit=unit).count()
    unit_grade(unit=unit)
    unit.refresh_from_db()
    event = UnitEvent.objects.filter(unit=unit).latest("id")
    assert UnitEvent.objects.filter(unit=unit).count() == before + 1
    assert event.kind == EventKind.GRADE_RECORDED and event.from_state == event.to_state == UnitState.FAILED
    assert event.payload["functional"] == "FAIL" and event.payload["codes"] == ["vram.scattered_errors"]
