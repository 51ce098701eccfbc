"""Charts on the bench's card page, drawn by the certificates' own SVG code (grading.charts): escaped, no script."""

from django import template
from django.utils.safestring import mark_safe

from grading.charts import bit_histogram_chart, thermal_chart

register = template.Library()


@register.filter
def telemetry_chart(run) -> str:
    """The run's sensors over time (temperatures, SM clock, power), or "" when it kept none."""
    telemetry = getattr(run, "telemetry", None)
    return mark_safe(thermal_chart(telemetry.columns)) if telemetry is not None and telemetry.columns else ""


@register.filter
def bit_histogram(evidence) -> str:
    """Which of the 32 data bits flipped, how often: from a VRAM check's evidence, "" without errors."""
    counts = (evidence or {}).get("bit_histogram")
    return mark_safe(bit_histogram_chart(counts)) if counts and any(counts) else ""
