"""A certificate's payload: the facts a buyer needs, as plain JSON, and nothing internal.

In: the card (model, board vendor, serial, VRAM, identity the bench read), the test (plan, dates, software versions,
key metrics per check, the thermal soak as a short series), the grade and its reasons (and an override, if an admin
made one: by role, not by name), the marketplace conditions, AI-readiness, the policy version. Out: purchase cost,
supplier, lot, location, people, the bench's and the worker's host names and every note — a test asserts it.

Numbers are rounded to four significant digits (what a buyer can read, and stable under JCS), and anything JSON
cannot carry exactly (NaN, huge integers) becomes null or text.
"""

from __future__ import annotations

import math
import re

# 2: marketplace conditions carry each channel's id and name, and the bench's name (internal) is left out.
# 3: the thermal soak travels as a series (so the PDF is a function of the payload alone and can be re-rendered to
# check a file offline), an override names the admin role rather than the admin, and software versions are only
# versions. Payloads of schemas 1 and 2 still verify: a signature is over the bytes a certificate was issued with.
# 4: each check carries its findings (code, severity, measured value, threshold, sentence) and each reason its
# finding code and where its threshold is defined (docs/findings.md).
# 5: the same members as 4; its PDF draws the thermal chart in layout 2 (each legend above its panel, the hotspot and
# memory lines dashed so that coinciding lines stay visible). A payload names its drawing: older ones draw as issued.
# 6: the run's `ai` check (decode, training, context) among the checks, and `ai_readiness.measured`: what it measured,
# beside the estimates, which stay. Its PDF adds the measured figures; older payloads draw as issued.
SCHEMA = "refurb-certificate/6"
SCHEMA_PREFIX = "refurb-certificate/"
MAX_SAFE_INTEGER = 2**53 - 1
# Evidence worth carrying on the certificate: small, and what a buyer would ask about.
CHECK_EVIDENCE = {"vram": ("bit_histogram", "diagnosis")}
FINDING_KEYS = ("code", "severity", "measured", "threshold", "source", "sentence")
METRIC_LIST_LIMIT = 16  # longer lists are working data, not facts for a buyer
SOFTWARE_KEYS = ("refurb", "torch", "cuda", "driver", "cuda_driver")
# A version starts with a digit ("2.3.0+cu121", "550.54.14"); a host name ("bench-03") does not.
VERSION = re.compile(r"[0-9][0-9A-Za-z.+~_-]{0,39}")
# The thermal soak's sensors the PDF charts, and how many readings of each the payload keeps.
THERMAL_SERIES = ("gpu_temp_c", "hotspot_temp_c", "memory_temp_c", "sm_clock_mhz", "power_w")
THERMAL_POINTS = 120


def schema_version(payload) -> int:
    """The schema number of a payload ("refurb-certificate/3" → 3); 0 if it names none."""
    schema = payload.get("schema") if isinstance(payload, dict) else None
    number = schema.removeprefix(SCHEMA_PREFIX) if isinstance(schema, str) else ""
    return int(number) if number.isascii() and number.isdigit() and len(number) < 4 else 0


def printed_form(public_id: str) -> str:
    """A certificate id as printed: in groups of four."""
    return "-".join(public_id[i:i + 4] for i in range(0, len(public_id), 4))


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
             "metrics": _metrics(result.get("metrics") or {}),
             "findings": [{key: plain(finding.get(key)) for key in FINDING_KEYS}
                          for finding in result.get("findings") or []]}
    evidence = result.get("evidence") or {}
    wanted = {k: plain(evidence[k]) for k in CHECK_EVIDENCE.get(result["name"], ()) if evidence.get(k)}
    if wanted and result["status"] != "pass":
        facts["evidence"] = wanted
    return facts


def thermal_series(columns: dict | None) -> dict | None:
    """The thermal soak's readings as the certificate keeps them: at most THERMAL_POINTS readings (evenly spaced,
    each one as measured, not averaged), seconds from the first, four significant digits. None without telemetry."""
    columns = columns or {}
    times = columns.get("time") or []
    known = [i for i, t in enumerate(times) if isinstance(t, int | float) and not isinstance(t, bool)
             and math.isfinite(t)]
    if len(known) < 2:
        return None
    step = (len(known) - 1) / (THERMAL_POINTS - 1)
    picked = sorted({known[round(i * step)] for i in range(THERMAL_POINTS)}) if len(known) > THERMAL_POINTS else known
    start = times[picked[0]]
    series = {"time_s": [plain(times[i] - start) for i in picked]}
    for key in THERMAL_SERIES:
        values = columns.get(key) or []
        kept = [plain(values[i]) if i < len(values) and isinstance(values[i], int | float)
                and not isinstance(values[i], bool) else None for i in picked]
        if any(v is not None for v in kept):
            series[key] = kept
    return series if len(series) > 1 else None


def internal_names(run) -> set[str]:
    """Names of the bench host, its worker and the card's slot, which the payload must not carry (lower case)."""
    texts = [run.worker, run.device_label]
    bench = run.bench if run.bench_id else None
    if bench is not None:
        texts += [bench.name, bench.worker]
    names = set()
    for text in texts:
        for part in re.split(r"[@\s/:]+", (text or "").lower()):
            # "celery@bench-03.lan": the whole host name and its first label; short or numeric parts name nothing.
            for name in (part, part.split(".")[0]):
                if len(name) >= 3 and any(c.isalpha() for c in name):
                    names.add(name)
    return names


def software_versions(software: dict | None, *, internal: set[str]) -> dict:
    """The run's software as versions only: the known components, each a version or None (anything else a worker
    wrote there, a host name for one, stays out)."""
    software = software if isinstance(software, dict) else {}
    kept = {}
    for key in SOFTWARE_KEYS:
        if key not in software:
            continue
        value = software[key]
        text = value if isinstance(value, str) else ""
        fine = VERSION.fullmatch(text) and not any(name in text.lower() for name in internal)
        kept[key] = text if fine else None
    return kept


def _iso(moment) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def build_payload(*, public_id: str, issued_at, issuer: str, verify_url: str, unit, run, grade, results: list[dict],
                  override: dict | None, supersedes: str | None, telemetry: dict | None) -> dict:
    """The payload for a certificate of `unit` from `run` and `grade` (times in UTC); `telemetry`: the run's
    telemetry columns, for the thermal series."""
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
            "software": software_versions(run.software, internal=internal_names(run)),
            "checks": [check_facts(r) for r in results],
            "thermal": thermal_series(telemetry),
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
