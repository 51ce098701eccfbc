"""The docs draw what the code declares: the lifecycle diagram and the grade definitions cannot drift."""

import re
from pathlib import Path

import pytest

from inventory.choices import COSMETIC_GRADE_DEFINITIONS
from inventory.lifecycle import TRANSITIONS

ROOT = Path(__file__).resolve().parent.parent


def diagram_edges(path: Path) -> set[tuple[str, str]]:
    block = re.search(r"```mermaid\n(.*?)```", path.read_text(), re.S).group(1)
    return {(a, b) for a, b in re.findall(r"^\s*(\w+) --> (\w+)\s*$", block, re.M)}


@pytest.mark.parametrize("doc", ["README.md", "docs/lifecycle.md"])
def test_lifecycle_diagram_matches_the_transition_table(doc):
    declared = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    assert diagram_edges(ROOT / doc) == declared


def test_cosmetic_grade_definitions_are_the_ones_in_the_docs():
    text = " ".join((ROOT / "docs" / "intake.md").read_text().split())
    for definition in COSMETIC_GRADE_DEFINITIONS.values():
        assert definition in text
