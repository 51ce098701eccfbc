"""Four people moving the same card at once: exactly one wins, on PostgreSQL (row lock) and SQLite. (Two benches
claiming one run are serialised by the run's own conditional claim: tests/testbench/test_services.py.)"""

import threading
import time

import pytest
from django.db import connection, connections

from inventory.choices import UnitState
from inventory.errors import IllegalTransition
from inventory.models import UnitEvent
from inventory.services import unit_transition
from inventory.services import units as units_service

STARTERS = 4


def move_concurrently(unit_id: int) -> list[str]:
    barrier = threading.Barrier(STARTERS)
    outcomes: list[str] = []

    def person(name: str) -> None:
        try:
            barrier.wait()
            unit_transition(unit=unit_id, to_state=UnitState.INSPECTED, actor_label=name)
            outcomes.append("won")
        except IllegalTransition:
            outcomes.append("lost")
        except Exception as exc:  # surfaced in the assertion below
            outcomes.append(f"error: {exc!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=person, args=(f"person-{i}",)) for i in range(STARTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_of_one_unit_exactly_one_wins(make_units, monkeypatch):
    unit = make_units(1)[0]
    unit_transition(unit=unit, to_state=UnitState.INSPECTED)
    unit_transition(unit=unit, to_state=UnitState.QUEUED)

    # Widen the window between reading the state and writing the new one, so that without the row lock
    # every one of them would read "queued" and all of them would win.
    real_check = units_service.assert_transition_allowed

    def slow_check(*args, **kwargs):
        real_check(*args, **kwargs)
        time.sleep(0.3)

    monkeypatch.setattr(units_service, "assert_transition_allowed", slow_check)
    outcomes = move_concurrently(unit.pk)

    assert sorted(outcomes) == ["lost"] * (STARTERS - 1) + ["won"], outcomes
    unit.refresh_from_db()
    assert unit.state == UnitState.INSPECTED
    assert UnitEvent.objects.filter(unit=unit, to_state=UnitState.INSPECTED).count() == 2  # intake's inspection too
    assert connection.vendor in ("postgresql", "sqlite")
