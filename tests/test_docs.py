"""The docs draw what the code declares: the lifecycle diagram and the grade definitions cannot drift."""

import re
from pathlib import Path

import pytest

from inventory.choices import COSMETIC_GRADE_DEFINITIONS
from inventory.lifecycle import SERVICE_ONLY_MOVES, TRANSITIONS

ROOT = Path(__file__).resolve().parent.parent


def diagram_edges(path: Path) -> dict[tuple[str, str], str]:
    """(from, to) -> the edge's label: the services that alone make the move, "" where a person may."""
    block = re.search(r"```mermaid\n(.*?)```", path.read_text(), re.S).group(1)
    return {(a, b): label for a, b, label in re.findall(r"^\s*(\w+) --> (\w+)(?:: ([\w ]+))?\s*$", block, re.M)}


@pytest.mark.parametrize("doc", ["README.md", "docs/lifecycle.md"])
def test_lifecycle_diagram_matches_the_transition_table_and_who_makes_each_move(doc):
    declared = {(source, target): " or ".join(sorted(SERVICE_ONLY_MOVES.get((source, target), ())))
                for source, targets in TRANSITIONS.items() for target in targets}
    assert diagram_edges(ROOT / doc) == declared


def test_cosmetic_grade_definitions_are_the_ones_in_the_docs():
    text = " ".join((ROOT / "docs" / "intake.md").read_text().split())
    for definition in COSMETIC_GRADE_DEFINITIONS.values():
        assert definition in text
