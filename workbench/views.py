"""The technician's screens (/bench/): scan to act, a batch of scanned cards, a card's page, intake of an unknown
card. Each page keeps the scan box at the top, focused, so the next scan works whatever was done last."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods

from core.errors import DomainError, InvalidInput
from grading.services import GRADABLE_STATES, certificate_issue, unit_grade
from inventory.choices import UnitState
from inventory.errors import IntakeRejected
from inventory.models import Unit
from inventory.roles import allowed_targets_for
from inventory.services import inspection_record, unit_repair_record, unit_transition
from resale.models import Order
from resale.services import return_receive
from testbench.models import BenchSlot, TestRun
from testbench.plans import PLANS
from testbench.services import run_cancel_request, runs_queue

from .forms import (
    HoldForm,
    InspectionForm,
    IntakeForm,
    LocateForm,
    MoveForm,
    QueueForm,
    RepairForm,
    ReturnForm,
    ScanForm,
)
from .labels import labels_pdf
from .selectors import board, cards_for_code, moves_for, order_for_returned_serial, unit_sheet
from .services import batch_hold, batch_locate, batch_queue, card_intake

BATCH_KEY = "workbench_batch"  # the scanned cards' ids, in the session


def bench_user(view):
    """Signed in (the admin's login page), with the right to see cards."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not request.user.has_perm("inventory.view_unit"):
            raise PermissionDenied("the bench screens are for technicians")
        return view(request, *args, **kwargs)

    return wrapper


def _say_refused(request, exc: DomainError) -> None:
    """A service's refusal as the page's messages, one per problem, each naming its field."""
    for field, texts in (getattr(exc, "errors", None) or {"": [str(exc)]}).items():
        for text in texts if isinstance(texts, list) else [texts]:
            messages.error(request, f"{field}: {text}" if field and field not in ("__all__", "units") else str(text))


def _form_refused(form, exc: DomainError, renamed: dict | None = None) -> None:
    """A service's refusal as the form's errors, next to the field it names (`renamed`: service field → form
    field), the rest above the form."""
    for field, problems in (getattr(exc, "errors", None) or {"__all__": [str(exc)]}).items():
        field = (renamed or {}).get(field, field)
        form.add_error(field if field in form.fields else None, problems)


def _page(request, template: str, context: dict, status: int = 200):
    context.setdefault("scan_form", ScanForm())
    context.setdefault("section", template.rsplit("/", 1)[-1].removesuffix(".html"))
    context["batch_size"] = len(request.session.get(BATCH_KEY, []))
    return render(request, template, context, status=status)


@bench_user
@require_http_methods(["GET"])
def scan(request):
    form = ScanForm(request.GET or None)
    if not form.is_bound:
        return _page(request, "workbench/scan.html", {})
    if not form.is_valid():
        return _page(request, "workbench/scan.html", {"scan_form": form}, status=400)
    code = form.cleaned_data["code"]
    matches = cards_for_code(code)
    if len(matches) == 1:
        messages.success(request, f"{matches[0].unit.asset_tag}: found by {matches[0].by} ({code.strip()})")
        return redirect("workbench:unit", asset_tag=matches[0].unit.asset_tag)
    return _page(request, "workbench/scan.html", {"searched": True, "code": code.strip(), "matches": matches,
                                                  "scan_form": ScanForm()}, status=200 if matches else 404)


@bench_user
def unit_page(request, asset_tag: str):
    sheet = unit_sheet(asset_tag)
    if sheet is None:
        return _page(request, "workbench/scan.html", {"searched": True, "code": asset_tag, "matches": []},
                     status=404)
    can_change = request.user.has_perm("inventory.change_unit")
    return _page(request, "workbench/unit.html", {
        "sheet": sheet, "unit": sheet.unit, "moves": moves_for(sheet.unit, request.user) if can_change else [],
        "repair_form": RepairForm() if can_change and sheet.unit.state == UnitState.REPAIR else None,
        "queue_form": QueueForm() if sheet.seat and request.user.has_perm("testbench.add_testrun") else None,
        "can_grade": sheet.unit.state in GRADABLE_STATES and request.user.has_perm("grading.add_grade"),
        "can_certify": sheet.unit.state == UnitState.GRADED and request.user.has_perm("grading.add_certificate")})


@bench_user
@require_http_methods(["POST"])
def unit_act(request, asset_tag: str):
    """One action on the card from its page: a move (with its reason), a repair record, or a run queued where the
    card is seated. Refusals come back as the page's message, in words."""
    unit = Unit.objects.filter(asset_tag=asset_tag.upper()).first()
    if unit is None:
        return redirect("workbench:scan")
    action = request.POST.get("action", "")
    try:
        if action == "move":
            form = MoveForm(request.POST)
            target = form.data.get("to_state", "")
            if not request.user.has_perm("inventory.change_unit") or target not in allowed_targets_for(request.user):
                raise PermissionDenied("your role may not move a card there")
            if not form.is_valid():
                raise InvalidInput(form.errors)
            unit_transition(unit=unit, to_state=target, reason=form.cleaned_data["reason"], actor=request.user)
            messages.success(request, f"{unit.asset_tag} is now {UnitState(target).label.lower()}")
        elif action == "repaired":
            if not request.user.has_perm("inventory.change_unit"):
                raise PermissionDenied("your role may not record repairs")
            form = RepairForm(request.POST)
            unit_repair_record(unit=unit, actions=form.data.getlist("actions"), note=form.data.get("note", ""),
                               actor=request.user)
            messages.success(request, f"{unit.asset_tag} repaired and back in the test queue")
        elif action == "grade":
            if not request.user.has_perm("grading.add_grade"):
                raise PermissionDenied("your role may not grade cards")
            grade = unit_grade(unit=unit, actor=request.user)
            messages.success(request, f"{unit.asset_tag} graded {grade.functional}/{grade.cosmetic or '–'}")
        elif action == "certify":
            if not request.user.has_perm("grading.add_certificate"):
                raise PermissionDenied("your role may not issue certificates")
            certificate = certificate_issue(unit=unit, actor=request.user)
            messages.success(request, f"{unit.asset_tag} certified: certificate {certificate.printed_id}")
        elif action == "queue":
            if not request.user.has_perm("testbench.add_testrun"):
                raise PermissionDenied("your role may not start test runs")
            plan = request.POST.get("plan", "")
            (run,) = runs_queue(units=[unit], plan=plan, actor=request.user)
            messages.success(request, f"{plan} run queued for {unit.asset_tag} (run {run.pk})")
        else:
            messages.error(request, f"{action or '(none)'}: not an action here")
    except DomainError as exc:
        _say_refused(request, exc)
    return redirect("workbench:unit", asset_tag=unit.asset_tag)


@bench_user
@require_http_methods(["GET", "POST"])
def batch(request):
    ids = request.session.get(BATCH_KEY, [])
    hold_form, locate_form = HoldForm(), LocateForm()
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "add":
            form = ScanForm(request.POST)
            code = form.data.get("code", "").strip()
            matches = cards_for_code(code) if form.is_valid() else []
            if len(matches) == 1:
                unit = matches[0].unit
                if unit.pk in ids:
                    messages.warning(request, f"{unit.asset_tag} is in the batch already")
                else:
                    ids.append(unit.pk)
                    messages.success(request, f"{unit.asset_tag} added ({len(ids)} in the batch)")
            elif matches:
                messages.error(request, f"{code}: {len(matches)} cards carry this code; scan the asset tag instead")
            else:
                messages.error(request, f"{code or '(empty)'}: no card has this code")
        elif action == "remove":
            ids = [i for i in ids if str(i) != request.POST.get("unit", "")]
        elif action == "clear":
            ids = []
        elif action == "queue":
            if not request.user.has_perm("testbench.add_testrun"):
                raise PermissionDenied("your role may not start test runs")
            units = list(Unit.objects.filter(pk__in=ids))
            plan = request.POST.get("plan", "quick")
            try:
                batch_queue(units=units, plan=plan, actor=request.user)
                messages.success(request, f"{plan} runs queued for {len(units)} cards")
                ids = []
            except DomainError as exc:
                _say_refused(request, exc)
        elif action in ("hold", "locate"):
            if not request.user.has_perm("inventory.change_unit") or (
                    action == "hold" and UnitState.ON_HOLD not in allowed_targets_for(request.user)):
                raise PermissionDenied("your role may not do this")
            units = list(Unit.objects.filter(pk__in=ids))
            form = HoldForm(request.POST) if action == "hold" else LocateForm(request.POST)
            if form.is_valid():
                try:
                    if action == "hold":
                        batch_hold(units=units, reason=form.cleaned_data["reason"], actor=request.user)
                        messages.success(request, f"{len(units)} cards on hold")
                    else:
                        batch_locate(units=units, location=form.cleaned_data["location"], actor=request.user)
                        messages.success(request, f"{len(units)} cards moved to {form.cleaned_data['location']}")
                    ids = []
                except DomainError as exc:
                    _say_refused(request, exc)
            hold_form, locate_form = (form, locate_form) if action == "hold" else (hold_form, form)
        request.session[BATCH_KEY] = ids
        if not (hold_form.errors or locate_form.errors):
            return redirect("workbench:batch")
    units = {u.pk: u for u in Unit.objects.filter(pk__in=ids).select_related("gpu_model")}
    return _page(request, "workbench/batch.html", {"units": [units[i] for i in ids if i in units],
                                                   "hold_form": hold_form, "locate_form": locate_form,
                                                   "queue_form": QueueForm()},
                 status=400 if (hold_form.errors or locate_form.errors) else 200)


@bench_user
@require_http_methods(["GET", "POST"])
def intake(request):
    if not request.user.has_perm("inventory.add_unit"):
        raise PermissionDenied("taking cards in is for technicians")
    form = IntakeForm(request.POST or None, initial={"serial": request.GET.get("serial", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            unit = card_intake(lot_reference=data["lot"], model=data["model"].slug, board_vendor=data["board_vendor"],
                               serial=data["serial"], actor=request.user)
        except IntakeRejected as exc:  # its rows' errors: one row here, each error names its field
            for error in exc.errors:
                form.add_error(error.field if error.field in form.fields else None, error.message)
        except DomainError as exc:  # the lot's fields
            _form_refused(form, exc)
        else:
            messages.success(request, f"{unit.asset_tag} taken in to lot {unit.lot.reference}: stick its label on")
            return redirect("workbench:unit", asset_tag=unit.asset_tag)
    return _page(request, "workbench/intake.html", {"form": form, "lots": IntakeForm.recent_lots(),
                                                    "vendors": ("MSI", "ASUS", "Gigabyte", "EVGA", "Zotac",
                                                                "Palit", "Sapphire", "PowerColor")},
                 status=400 if form.errors else 200)


@bench_user
@require_http_methods(["GET"])
def labels(request):
    """Labels as a PDF: ?unit=TAG (repeated), ?batch=1 (the scanned batch) or ?lot=REF; &profile=62x29|50x25|a4;
    &kind=asset|certificate."""
    cards = Unit.objects.select_related("gpu_model")
    if request.GET.get("lot"):
        units, name = list(cards.filter(lot__reference=request.GET["lot"]).order_by("asset_tag")), request.GET["lot"]
    elif request.GET.get("batch"):
        ids = request.session.get(BATCH_KEY, [])
        found = {u.pk: u for u in cards.filter(pk__in=ids)}
        units, name = [found[i] for i in ids if i in found], "batch"
    else:
        tags = [t.upper() for t in request.GET.getlist("unit")]
        found = {u.asset_tag: u for u in cards.filter(asset_tag__in=tags)}
        units, name = [found[t] for t in tags if t in found], "-".join(tags[:3])
    profile, kind = request.GET.get("profile", "62x29"), request.GET.get("kind", "asset")
    try:
        pdf = labels_pdf(units, profile=profile, kind=kind)
    except DomainError as exc:
        text = "; ".join(f"{field}: {' '.join(problems)}" for field, problems in exc.errors.items())
        return HttpResponse(text + "\n", status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="labels-{kind}-{profile}-{slugify(name)}.pdf"'
    return response


@bench_user
@require_http_methods(["GET"])
def board_page(request):
    """Every bench and slot with the live progress of its run. ?fragment=1: the slots alone, which the page fetches
    every two seconds to redraw them without reloading."""
    context = {"benches": board(), "plans": list(PLANS), "embedded": settings.REFURB_EMBEDDED,
               "can_run": request.user.has_perm("testbench.add_testrun"),
               "can_cancel": request.user.has_perm("testbench.change_testrun")}
    if request.GET.get("fragment"):
        return render(request, "workbench/board_slots.html", context)
    return _page(request, "workbench/board.html", context)


@bench_user
@require_http_methods(["POST"])
def board_act(request):
    """Start a run on a slot's card, or cancel a slot's run; back to the board with the outcome in words."""
    action = request.POST.get("action", "")
    try:
        if action == "start":
            if not request.user.has_perm("testbench.add_testrun"):
                raise PermissionDenied("your role may not start test runs")
            slot = BenchSlot.objects.select_related("unit", "bench").filter(pk=request.POST.get("slot") or 0).first()
            if slot is None or slot.unit is None:
                raise InvalidInput({"slot": ["no card is seated there"]})
            plan = request.POST.get("plan", "quick")
            runs_queue(units=[slot.unit], plan=plan, actor=request.user)
            messages.success(request, f"{plan} run started for {slot.unit.asset_tag} on {slot}")
        elif action == "cancel":
            if not request.user.has_perm("testbench.change_testrun"):
                raise PermissionDenied("your role may not cancel test runs")
            run = TestRun.objects.select_related("unit").filter(pk=request.POST.get("run") or 0).first()
            if run is None:
                raise InvalidInput({"run": ["no such run"]})
            run_cancel_request(run=run, reason=f"cancelled on the bench board by {request.user.get_username()}",
                               actor=request.user)
            messages.success(request, f"run {run.pk} of {run.unit.asset_tag}: cancel asked")
        else:
            messages.error(request, f"{action or '(none)'}: not an action here")
    except DomainError as exc:
        _say_refused(request, exc)
    return redirect("workbench:board")


@bench_user
@require_http_methods(["GET", "POST"])
def returns(request):
    """A card sent back: scan its serial (and type the order number from the slip, if there is one); it is taken
    back only if it is the card that left in that order, within its window (resale.services.return_receive)."""
    if not request.user.has_perm("resale.add_cardreturn"):
        raise PermissionDenied("taking returns back is for resellers")
    form = ReturnForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        order = (Order.objects.filter(pk=data["order"]).first() if data["order"]
                 else order_for_returned_serial(data["serial"]))
        if order is None:
            form.add_error("order" if data["order"] else "serial",
                           f"no order {data['order']}" if data["order"] else
                           f"no card with serial {data['serial']} was sold: type the order number from the slip")
        else:
            try:
                taken = return_receive(order=order, scanned_serial=data["serial"], reason=data["reason"],
                                       refund=data["refund"] or 0, cost=data["cost"] or 0, notes=data["notes"],
                                       actor=request.user)
            except DomainError as exc:
                _form_refused(form, exc, renamed={"scanned_serial": "serial"})
            else:
                unit = taken.line.unit
                messages.success(request, f"{unit.asset_tag} taken back from order {order.pk}: it goes to "
                                           "inspection and tests again")
                return redirect("workbench:unit", asset_tag=unit.asset_tag)
    return _page(request, "workbench/returns.html", {"form": form}, status=400 if form.errors else 200)


@bench_user
@require_http_methods(["GET", "POST"])
def inspect(request, asset_tag: str):
    """The inspection checklist for one card, with photos from a phone's camera (inventory.services.inspection_record:
    the cosmetic grade set, a received, returned or repaired card moved to inspected, all in one transaction)."""
    unit = Unit.objects.select_related("gpu_model").filter(asset_tag=asset_tag.upper()).first()
    if unit is None:
        return redirect("workbench:scan")
    if not request.user.has_perm("inventory.add_inspection"):
        raise PermissionDenied("inspections are for technicians")
    form = InspectionForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                inspection_record(unit=unit, actor=request.user, photos=data.pop("photos"), **data)
            except DomainError as exc:
                _form_refused(form, exc)
            else:
                messages.success(request, f"{unit.asset_tag} inspected: cosmetic {data['cosmetic_grade']}")
                return redirect("workbench:unit", asset_tag=unit.asset_tag)
    return _page(request, "workbench/inspect.html", {"form": form, "unit": unit}, status=400 if form.errors else 200)
