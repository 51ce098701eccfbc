"""The public storefront (no account): active listings with filters, and each listing's page with the cards' specs,
grades, measured figures, thermal chart, AI-readiness and certificates. And the lot profit and yield dashboard
(resellers and admins)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from grading.charts import thermal_chart
from grading.pdf import thermal_columns
from grading.readiness import decode_rates, measured_rates

from .charts import margin_chart, yield_chart
from .choices import ListingStatus
from .dashboard import lot_rows, lots_page, rate_tables
from .exports import csv_text
from .services import pricing_rules_current
from .storefront import FITS, store_listing, store_listings

GRADE_WORDS = {"F-A": "all checks passed at reference performance", "F-B": "passed, with minor warnings",
               "F-C": "works, with a stated limitation"}


def _public(context: dict) -> dict:
    return {"issuer": settings.REFURB_ISSUER, **context}


@require_safe
def store(request):
    result = store_listings(request.GET)
    query = request.GET.copy()
    query.pop("page", None)
    status = 200 if result.form.is_valid() else 400
    return render(request, "resale/store_list.html", _public({
        "form": result.form, "page": result.page, "total": result.total, "query": query.urlencode(),
        "grade_words": GRADE_WORDS, "fits": FITS}), status=status)


@require_safe
def store_item(request, listing_id: int):
    listing, cards = store_listing(listing_id)
    if listing is None or listing.status not in (ListingStatus.ACTIVE, ListingStatus.SOLD):
        raise Http404("no such listing")
    for card in cards:
        # The certificate's own chart, drawn from its signed series (as its PDF draws it); our SVG, text escaped.
        card["chart"] = mark_safe(thermal_chart(thermal_columns(card["payload"], None))) if card["payload"] else ""
        card["grade_words"] = GRADE_WORDS.get((card["payload"].get("grade") or {}).get("functional"), "")
    return render(request, "resale/store_item.html", _public({
        "listing": listing, "cards": cards, "model": listing.gpu_model, "ai": cards[0]["payload"].get(
            "ai_readiness") if cards else {}, "sold": listing.status == ListingStatus.SOLD,
        "spread": f"{float(listing.matched_set.spread):.1%}" if listing.matched_set_id else "",
        "decode": decode_rates(cards[0]["payload"].get("ai_readiness") if cards else None),
        "measured": measured_rates(cards[0]["payload"].get("ai_readiness") if cards else None)}),
        status=200 if listing.status == ListingStatus.ACTIVE else 410)


# --- the lot profit and yield dashboard (resellers and admins) ---------------------------------------------------

def _lot_table(rows) -> tuple[list[str], list[list]]:
    header = ["lot", "currency", "cost", "bought", "tested", "F-A", "F-B", "F-C", "FAIL", "yield", "for parts",
              "scrapped", "in repair", "repaired", "repairs that passed", "bench hours per card", "top failure reasons",
              "stock value (suggested)", "sold", "revenue", "fees", "shipping", "returns", "returns cost", "margin"]
    body = [[r.reference, r.currency, r.cost, r.bought, r.tested, r.grades["F-A"], r.grades["F-B"], r.grades["F-C"],
             r.grades["FAIL"], f"{r.yield_share:.0%}" if r.yield_share is not None else "",
             r.parts, r.scrapped, r.in_repair, r.repaired, r.repair_fixed,
             f"{r.bench_hours_per_card:.2f}" if r.bench_hours_per_card is not None else "",
             "; ".join(f"{code} ×{n}" for code, n in r.reasons), r.stock_value, r.sold, r.revenue, r.fees,
             r.shipping, r.returns, r.returns_cost, r.margin] for r in rows]
    return header, body


DOWNLOADS = {"lots": "lot", "models": "model", "rigs": "rig", "benches": "bench"}  # ?download=… and its rows


def _rate_table(rows, what: str) -> tuple[list[str], list[list]]:
    header = [{"rig": "source rig"}.get(what, what), "graded", "failed", "failure rate", "sold", "returned",
              "return rate"]
    body = [[r.key, r.graded, r.failed, f"{r.failure_rate:.1%}" if r.failure_rate is not None else "", r.sold,
             r.returned, f"{r.return_rate:.1%}" if r.return_rate is not None else ""] for r in rows]
    return header, body


@staff_member_required
@require_safe
def dashboard(request):
    if not request.user.has_perms(("resale.view_order", "inventory.view_lot_costs")):
        raise PermissionDenied("the dashboard is for resellers and admins")
    rules = pricing_rules_current()
    wanted = request.GET.get("download")
    if wanted:  # a whole table: every lot, not only a page of them
        if wanted not in DOWNLOADS:
            return HttpResponse(f"download is one of: {', '.join(DOWNLOADS)}\n", status=400,
                                content_type="text/plain; charset=utf-8")
        if wanted == "lots":
            header, body = _lot_table(lot_rows(rules))
        else:
            header, body = _rate_table(rate_tables()[DOWNLOADS[wanted]], DOWNLOADS[wanted])
        response = HttpResponse(csv_text([header, *body]), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="refurb-{wanted}.csv"'
        return response
    # The lots a page at a time, newest first: the page's figures cost the same however many lots there are.
    page = lots_page(request.GET.get("page"))
    lots = lot_rows(rules, page.object_list)
    rates = rate_tables()
    tables = {"lots": _lot_table(lots), **{name: _rate_table(rates[by], by) for name, by in DOWNLOADS.items()
                                           if name != "lots"}}
    return render(request, "resale/dashboard.html", {
        **admin.site.each_context(request), "title": "Lots: yield and profit", "tables": tables,
        "yield_svg": mark_safe(yield_chart(lots)), "margin_svg": mark_safe(margin_chart(lots)), "page": page})
