"""The catalog data file and how model names are compared. Free of Django, so bench processes can use it too."""

import re
from pathlib import Path

CATALOG_FILE = Path(__file__).resolve().parent / "data" / "gpu_catalog.toml"


def model_name_key(text: str) -> str:
    """'NVIDIA GeForce RTX 3080' and 'rtx3080' give the same key."""
    text = re.sub(r"\b(nvidia|geforce|amd|radeon)\b", " ", text.lower())
    return re.sub(r"[^a-z0-9]", "", text)
