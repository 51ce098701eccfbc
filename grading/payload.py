"""A certificate's payload: the facts a buyer needs, as plain JSON, and nothing internal.

In: the card (model, board vendor, serial, VRAM, identity the bench read), the test (plan, dates, software, key
metrics per check), the grade and its reasons (and an override, if an admin made one), the marketplace conditions,
AI-readiness, the policy version. Out: purchase cost, supplier, lot, location, the bench's name and every note — a
test asserts it.

Numbers are rounded to four significant digits (what a buyer can read, and stable under JCS), and anything JSON
cannot carry exactly (NaN, huge integers) becomes null or text.
"""

from __future__ import annotations

import math

# 2: marketplace conditions carry each channel's id and name, and the bench's name (internal) is left out. A payload
# of schema 1 still verifies: its signature is over the bytes it was issued with.
SCHEMA = "refurb-certificate/2"
MAX_SAFE_INTEGER = 2**53 - 1
# Evidence worth carrying on the certificate: small, and what a buyer would ask about.
CHECK_EVIDENCE = {"vram": ("bit_histogram", "diagnosis")}
METRIC_LIST_LIMIT = 16  # longer lists are working data, not facts for a buyer


def plain(value):
    """`value` made JSON-exact: floats to four significant digits, non-finite to None, huge ints to text."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        rounded = float(f"{value:.4g}")
        return int(rounded) if rounded.is_integer() and abs(rounded) <= MAX_SAFE_INTEGER else rounded
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def _metrics(metrics: dict) -> dict:
    kept = {}
    for key, value in (metrics or {}).items():
        if key == "not_supported" or (isinstance(value, list | dict) and len(value) > METRIC_LIST_LIMIT):
            continue
        kept[key] = plain(value)
    return kept


def check_facts(result: dict) -> dict:
    facts = {"name": result["name"], "status": result["status"], "summary": result.get("summary", ""),
             "metrics": _metrics(result.get("metrics") or {})}
    evidence = result.get("evidence") or {}
    wanted = {k: plain(evidence[k]) for k in CHECK_EVIDENCE.get(result["name"], ()) if evidence.get(k)}
    if wanted and result["status"] != "pass":
        facts["evidence"] = wanted
    return facts


def _iso(moment) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def build_payload(*, public_id: str, issued_at, issuer: str, verify_url: str, unit, run, grade, results: list[dict],
                  override: dict | None, supersedes: str | None) -> dict:
    """The payload for a certificate of `unit` from `run` and `grade` (times in UTC)."""
    model = unit.gpu_model
    identity = run.identity or {}
    return {
        "schema": SCHEMA,
        "id": public_id,
        "issued_at": _iso(issued_at),
        "issuer": issuer,
        "verify_url": verify_url,
        "supersedes": supersedes,
        "card": {
            "model": model.name,
            "gpu_vendor": model.get_vendor_display(),
            "board_vendor": unit.board_vendor,
            "serial": unit.serial or None,
            "asset_tag": unit.asset_tag,
            "vram_gib": plain(float(model.vram_gib)),
            "memory_type": model.memory_type,
            "nvml_uuid": identity.get("uuid") or unit.nvml_uuid or None,
            "pci_id": f"{model.pci_vendor_id}:{identity.get('pci_device_id') or unit.pci_device_id or '?'}",
            "vbios_version": identity.get("vbios_version") or unit.vbios_version or None,
            "simulated": bool(identity.get("simulated")),
        },
        "test": {
            "plan": run.plan,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "verdict": run.verdict,
            "software": plain(run.software or {}),
            "checks": [check_facts(r) for r in results],
        },
        "grade": {
            "functional": grade.functional,
            "cosmetic": grade.cosmetic or None,
            "policy_version": grade.policy_version,
            "reasons": plain(grade.reasons),
            "marketplace": plain(grade.marketplace),
            "override": override,
        },
        "ai_readiness": plain(grade.ai),
    }
