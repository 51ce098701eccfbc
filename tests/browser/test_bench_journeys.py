"""Journeys at the bench, in a real browser: a technician scans a card nobody took in, takes it in from the offer,
scans it again and lands on its page with the scan box ready; scans a tray into a batch and moves it to a shelf.
The keyboard alone does it: every scan is typed into the focused box and ends with Enter, as a scanner does."""

import pytest

from inventory.models import Unit

from .conftest import shot


def scan(page, code: str) -> None:
    """A barcode scanner: the code's keystrokes into whatever has focus, then Enter. Typed once the page has put
    the focus in the scan box (a page still loading has not yet: a person waits for the screen too)."""
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_code'")
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


@pytest.mark.django_db(transaction=True)
def test_a_technician_takes_a_card_in_tests_and_grades_it_and_an_admin_certifies_it(open_page, technician,
                                                                                     admin_user, make_units):
    from testbench.models import Bench, BenchSlot
    from testbench.plans import SIM_TIME_FACTOR

    make_units(1, lot="BROWSER-LOT")  # a lot to pick from
    page = open_page(technician)
    assert focused_id(page) == "id_code"
    scan(page, "SN-BR 0042")
    page.wait_for_selector("text=No card has the code")
    shot(page, "bench-scan-unknown")
    page.click("text=Take it in with this serial")
    assert page.input_value("#id_serial") == "SN-BR 0042"
    page.select_option("#id_model", "geforce-rtx-3080")
    page.fill("#id_board_vendor", "MSI")
    page.fill("#id_lot", "BROWSER-LOT")
    page.click("button:has-text('Take it in')")
    page.wait_for_selector(".messages .success")
    unit = Unit.objects.get(serial="SN-BR0042")
    assert page.url.endswith(f"/bench/unit/{unit.asset_tag}/") and focused_id(page) == "id_code"
    assert "taken in to lot BROWSER-LOT" in page.inner_text(".messages")
    scan(page, "sn-br0042")  # typed differently: the same card
    page.wait_for_selector("text=found by serial")
    assert page.url.endswith(f"/bench/unit/{unit.asset_tag}/")
    # The card goes into a simulated bench's slot (a bench host records what it sees when it starts).
    bench = Bench.objects.create(name="bench-sim-1", simulated=True)
    BenchSlot.objects.create(bench=bench, index=0, unit=unit, device={
        "kind": "simulated", "index": 0, "slug": "geforce-rtx-3080", "seed": 3, "profiles": ["healthy"],
        "memory_bytes": 32 * 2**20, "time_scale": SIM_TIME_FACTOR, "serial": unit.serial, "uuid": ""})
    page.click("body > header a:has-text('Board')")
    page.click("article.slot >> button:has-text('Start')")  # the quick plan, the default
    page.wait_for_selector("text=quick run started")
    page.evaluate("window.notReloaded = true")
    page.wait_for_selector("article.slot p.idle-slot >> text=Tested", timeout=120_000)  # the end, drawn live
    assert page.evaluate("window.notReloaded") is True
    page.click(f"article.slot a:has-text('{unit.asset_tag}')")
    page.click("button:has-text('Grade it from its last run')")
    page.wait_for_selector("text=graded F-A")
    shot(page, "bench-unit-page")
    assert "Issue the certificate" not in page.content()  # a technician does not certify
    office = open_page(admin_user, next_path=f"/bench/unit/{unit.asset_tag}/")
    office.click("button:has-text('Issue the certificate')")
    office.wait_for_selector("text=certified: certificate")
    certificate = unit.certificates.get()
    office.click(f"a:has-text('{certificate.public_id}')")
    office.wait_for_url(f"**/verify/{certificate.public_id}/")
    assert "Valid." in office.inner_text(".banner")


@pytest.mark.django_db(transaction=True)
def test_a_tray_scanned_into_a_batch_moves_to_a_shelf_in_one_action(open_page, technician, make_units):
    cards = make_units(4, lot="TRAY-1")
    page = open_page(technician, next_path="/bench/batch/")
    for card in cards:
        assert focused_id(page) == "id_code"  # back in the box after every scan
        scan(page, card.asset_tag)
        page.wait_for_selector(f"text={card.asset_tag} added")
    assert page.inner_text("h1") == "Batch: 4 cards"
    page.fill("#id_location", "shelf C3")
    page.press("#id_location", "Enter")
    page.wait_for_selector("text=4 cards moved to shelf C3")
    shot(page, "bench-batch-moved")
    assert set(Unit.objects.filter(lot__reference="TRAY-1").values_list("location", flat=True)) == {"shelf C3"}


@pytest.mark.django_db(transaction=True)
def test_intake_works_on_a_phone(open_page, technician, catalog):
    page = open_page(technician, width=390, height=844, next_path="/bench/intake/")
    page.fill("#id_serial", "PHONE 1")
    page.click("button:has-text('Take it in')")  # nothing else filled: each field says what it needs
    assert page.locator(".errorlist").count() >= 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    shot(page, "bench-intake-phone")


@pytest.mark.django_db(transaction=True)
def test_a_failed_card_goes_to_repair_and_back_to_test_with_a_repair_record(open_page, technician, make_units,
                                                                             walk):
    failed = walk(make_units(1, lot="REPAIR-1")[0], "failed", failing=True)
    page = open_page(technician)
    scan(page, failed.asset_tag)
    page.wait_for_selector("h1 >> text=Failed")
    reason = page.get_by_label("why (send to repair)")
    reason.fill("fan does not spin")
    reason.press("Enter")  # the keyboard alone
    page.wait_for_selector("text=is now in repair")
    assert focused_id(page) == "id_code"
    page.get_by_label("fan replaced").check()
    page.get_by_label("thermal pads replaced").check()
    page.fill("#id_note", "pads 1.5 mm")
    page.click("button:has-text('Repaired: back to test')")
    page.wait_for_selector("text=repaired and back in the test queue")
    shot(page, "bench-unit-repaired")
    timeline = page.inner_text("table:below(h2:has-text('Timeline'))")
    assert "thermal pads replaced, fan replaced (pads 1.5 mm)" in timeline  # in the form's order
    assert Unit.objects.get(pk=failed.pk).state == "queued"


@pytest.mark.django_db(transaction=True)
def test_a_run_started_on_the_board_is_watched_to_its_end_without_reloading(open_page, technician, make_units,
                                                                          settings):
    from testbench.models import Bench, BenchSlot
    from testbench.plans import SIM_TIME_FACTOR

    (card,) = make_units(1, lot="BOARD-1")
    bench = Bench.objects.create(name="bench-sim-7", simulated=True)
    BenchSlot.objects.create(bench=bench, index=0, unit=card, device={
        "kind": "simulated", "index": 0, "slug": "geforce-rtx-3080", "seed": 7, "profiles": ["healthy"],
        "memory_bytes": 32 * 2**20, "time_scale": SIM_TIME_FACTOR, "serial": card.serial, "uuid": ""})
    # The standard plan (some eight seconds on a simulated card; the quick one ends within one redraw of the board)
    # and a heartbeat a second, so that the board has progress to draw on the way.
    settings.REFURB_RUN_HEARTBEAT_S = 1
    page = open_page(technician, next_path="/bench/board/")
    page.select_option("article.slot select[name=plan]", "standard")
    page.click("article.slot >> button:has-text('Start')")
    page.wait_for_selector("text=standard run started")
    # What the live view draws, frame by frame, kept by the page itself (no reload may happen: it would lose it).
    page.evaluate("""window.frames_seen = [];
        new MutationObserver(() => { const phase = document.querySelector('article.slot .phase');
            const pct = document.querySelector('article.slot .pct');
            window.frames_seen.push([phase ? phase.innerText : '', pct ? parseInt(pct.innerText) : null]); })
        .observe(document.getElementById('board'), {childList: true, subtree: true});""")
    page.wait_for_function("(document.querySelector('article.slot .pct') || {innerText: '0'}).innerText"
                           ".match(/^([1-9]|[1-9][0-9]) %/) !== null", timeout=60_000)  # on its way
    shot(page, "bench-board-running")
    page.wait_for_selector("article.slot p.idle-slot", timeout=120_000)  # the run ended: the slot is free again
    frames = page.evaluate("window.frames_seen")
    running = [pct for phase, pct in frames if "running" in phase and pct is not None]
    assert running == sorted(running) and any(0 < pct < 100 for pct in running), frames  # on its way, forwards
    assert "live ·" in page.inner_text("#live-status")
    card.refresh_from_db()
    run = card.test_runs.get()
    assert card.state in ("tested", "graded", "certified"), (card.state, run.state, run.end_reason)
    shot(page, "bench-board-done")
