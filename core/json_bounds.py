"""Bounds for free-shape JSON that people and machines send: depth and size, checked without recursion."""

from __future__ import annotations

import json

JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 64 * 1024


def json_bounds_problem(value, *, max_depth: int = JSON_MAX_DEPTH, max_bytes: int = JSON_MAX_BYTES) -> str:
    """Why a JSON value is too deep or too large to keep, or "". Walks with a stack, never recursion, so a value
    nested thousands deep costs a loop, not a RecursionError; the size is measured only once the depth is known to
    be small (json.dumps recurses)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > max_depth:
            return f"nested more than {max_depth} levels deep"
        stack.extend((child, depth + 1) for child in children)
    try:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        return "not JSON"
    if size > max_bytes:
        return f"{size} bytes as JSON; at most {max_bytes}"
    return ""
