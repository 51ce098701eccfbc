"""python manage.py bench run [--simulate N | --or-simulate N] [--lot REF] [--faults P,…] [--plan quick] [--json]

Tests every card on this bench host at once, one worker process per card, with a live progress bar per card and a
results table at the end. With --lot, simulated slots hold that lot's own NVIDIA cards (a real host takes the cards
no unit claims in to that lot). Exit status: 0 when every card tested passed (warnings included; cards the bench
cannot test are listed with the reason), 1 when any card failed or errored, 2 for a usage error, 130 when cancelled
with Ctrl-C.
"""

from __future__ import annotations

import json as json_module
import shutil
import socket
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from inventory.models import Lot
from testbench.batch import CardOutcome, bench_run_batch, lot_seating
from testbench.hardware.discovery import SIMULATED_MODELS, nvml_specs, simulated_specs
from testbench.hardware.faults import PROFILES
from testbench.plans import PLANS, SIM_TIME_FACTOR
from testbench.reference import catalog_references
from testbench.services import BenchRefused

MAX_SIMULATED = 64
VERDICT_STYLE = {"pass": "SUCCESS", "warn": "WARNING", "fail": "ERROR", "error": "ERROR", "cancelled": "NOTICE",
                 "not tested": "NOTICE"}


def usage(message: str) -> CommandError:
    return CommandError(message, returncode=2)


def parse_faults(text: str) -> list[tuple[str, ...]]:
    """'healthy,vram_stuck_bit,thermal_runaway+fan_failed' → one fault set per card, dealt out in turn."""
    sets = [tuple(p.strip() for p in item.split("+") if p.strip()) for item in text.split(",") if item.strip()]
    unknown = sorted({p for s in sets for p in s if p not in PROFILES})
    if unknown:
        raise usage(f"unknown fault profile(s): {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    return sets


class ProgressDisplay:
    """A progress bar per card on a terminal; on anything else (CI logs, a pipe), a line per check and verdict."""

    def __init__(self, stream, style, *, count: int):
        self.stream = stream
        self.style = style
        self.bars: dict[int, object] = {}
        self.tty = stream.isatty()
        self.last_check: dict[int, str] = {}
        size = shutil.get_terminal_size((120, 40))  # a terminal that reports no size gets the fallback
        self.columns = max(80, min(160, size.columns))
        self.rows = max(size.lines, count + 2)  # tqdm hides bars below the screen's last row
        self.count = count

    def _title(self, outcome: CardOutcome) -> str:
        tag = outcome.unit.asset_tag if outcome.unit else "—"
        return f"{outcome.label:<6} {tag:<12} {outcome.model[:22]:<22}"

    def __call__(self, outcome: CardOutcome, event: str) -> None:
        if self.tty:
            self._bar(outcome, event)
        elif event == "ready":
            intake = ", taken in" if outcome.taken_in else ""
            self.stream.write(f"{self._title(outcome)} run {outcome.run.pk} queued{intake}\n")
        elif event == "progress" and self.last_check.get(outcome.key) != outcome.check:
            self.last_check[outcome.key] = outcome.check
            self.stream.write(f"{self._title(outcome)} {outcome.fraction:4.0%} {outcome.check}\n")
        elif event == "finished":
            error = f": {outcome.error}" if outcome.error else ""
            self.stream.write(f"{self._title(outcome)} {outcome.verdict}{error}\n")
        self.stream.flush()

    def _bar(self, outcome: CardOutcome, event: str) -> None:
        from tqdm import tqdm

        bar = self.bars.get(outcome.key)
        if bar is None:
            bar = self.bars[outcome.key] = tqdm(total=1000, desc=self._title(outcome), position=outcome.key,
                                                file=self.stream, leave=True, ncols=self.columns, nrows=self.rows,
                                                bar_format="{desc} {percentage:3.0f}%|{bar:24}| {elapsed} {postfix}")
        bar.n = int(outcome.fraction * 1000)
        if event == "finished":
            bar.set_postfix_str(outcome.verdict.upper() + (f" {outcome.error[:60]}" if outcome.error else ""),
                                refresh=False)
        else:
            bar.set_postfix_str(f"{outcome.check} {outcome.phase}"[:48], refresh=False)
        bar.refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def reasons(outcome: CardOutcome) -> str:
    if outcome.report is None:
        return outcome.error or ("cancelled" if outcome.cancelled else "")
    noted = [c for c in outcome.report.checks if str(c.status) != "pass"]
    skipped = [c for c in noted if c.summary.startswith("not run:")]
    text = "; ".join(f"{c.name} {c.status}: {c.summary}" for c in noted if c not in skipped)
    return text + (f"; {len(skipped)} later checks not run" if skipped else "")


def add_device_arguments(parser, *, or_simulate: bool) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--simulate", type=int, metavar="N",
                        help=f"N simulated cards (1–{MAX_SIMULATED}) instead of the GPUs")
    if or_simulate:
        source.add_argument("--or-simulate", type=int, metavar="N",
                            help="the GPUs found, or N simulated cards where there are none")
    parser.add_argument("--faults", default="",
                        help="fault profiles dealt out over the simulated cards in turn, e.g. "
                             "healthy,vram_stuck_bit,thermal_runaway+fan_failed (known: " + ", ".join(PROFILES) + ")")
    parser.add_argument("--models", default="",
                        help="catalog models of the simulated cards, in turn (default: "
                             + ", ".join(SIMULATED_MODELS) + ")")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated cards (where their faults sit)")
    parser.add_argument("--bench", default="", help="bench host name (default: this host's name)")


def why_no_gpu() -> str:
    from testbench.hardware import nvml

    return f"NVML: {nvml.nvml_unavailable_reason}" if nvml.nvml_unavailable_reason else \
        "NVML sees none that CUDA can drive"


def discover(*, simulate=None, or_simulate=None, faults="", models="", seed=0, bench="", **_):
    """The devices to use and the bench name, from the command line; usage errors raise (exit 2)."""
    count = simulate if simulate is not None else or_simulate
    if count is not None and not 1 <= count <= MAX_SIMULATED:
        raise usage(f"--simulate must be between 1 and {MAX_SIMULATED}, not {count}")
    if faults and count is None:
        raise usage("--faults applies to simulated cards: add --simulate N (or --or-simulate N)")
    fault_sets = parse_faults(faults) if faults else None
    model_list = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in model_list if m not in catalog_references()]
    if unknown:
        raise usage(f"unknown model(s): {', '.join(unknown)}; use catalog slugs such as geforce-rtx-3080")
    specs = [] if simulate is not None else nvml_specs()
    if not specs and count is None:
        raise usage(f"no NVIDIA GPU found on this host ({why_no_gpu()}); use --simulate N to test simulated cards")
    if not specs and simulate is None:
        sys.stderr.write(f"no NVIDIA GPU found on this host ({why_no_gpu()}): simulated cards instead\n")
    if not specs:
        specs = simulated_specs(count, faults=fault_sets, models=model_list or None, seed=seed,
                                time_scale=SIM_TIME_FACTOR)
    simulated = specs[0].kind == "simulated"
    host = bench or socket.gethostname().split(".")[0]
    return specs, simulated, (f"{host}-sim" if simulated and not bench else host)


class Command(BaseCommand):
    help = "Test the cards on this bench host (real GPUs, or simulated cards with injected faults)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="{run,worker}")
        run = actions.add_parser("run", help="run a test plan on every card on this bench, all at once")
        add_device_arguments(run, or_simulate=True)
        run.add_argument("--lot", default="", metavar="REF",
                         help="an existing lot: simulated slots hold a demonstration lot's NVIDIA cards that wait "
                              "for a test (N slots at most; the rest are listed with the reason); on real GPUs, "
                              "cards no unit claims are taken in to this lot")
        run.add_argument("--plan", default="quick", choices=list(PLANS), help="test plan (default: quick)")
        run.add_argument("--parallel", type=int, help="cards at once (default: every GPU; simulated: CPU cores)")
        run.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
        worker = actions.add_parser("worker", help="serve this bench host: register its GPU slots and the cards "
                                                   "in them, send heartbeats, and run what is routed here")
        add_device_arguments(worker, or_simulate=False)
        worker.add_argument("--loglevel", default="info")

    def handle(self, *args, action: str, **options):
        if action == "worker":
            return self.worker(**options)
        return self.run(**options)

    def worker(self, *, loglevel: str, **options):
        from django.conf import settings

        from testbench.orchestration.host import bench_host_serve

        if settings.REFURB_EMBEDDED:
            raise usage("bench worker needs a broker: set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0); "
                        "without one, `bench run` tests the cards here")
        specs, simulated, name = discover(**options)
        try:
            bench_host_serve(specs=specs, simulated=simulated, name=name, loglevel=loglevel, out=self.stdout)
        except BenchRefused as exc:
            raise usage(str(exc)) from None

    def run(self, *, plan, parallel, json: bool, lot: str, **options):
        if parallel is not None and parallel < 1:
            raise usage("--parallel must be at least 1")
        if lot and options.get("models"):
            raise usage("--models does not apply with --lot: the lot's cards are the models")
        if lot and not Lot.objects.filter(reference=lot).exists():  # a typo must not start a lot of its own
            raise usage(f"no lot {lot!r}")
        specs, simulated, bench_name = discover(**options)
        seats, untested = None, []
        if lot and simulated:
            try:
                seating = lot_seating(lot, slots=len(specs), faults=parse_faults(options["faults"] or "healthy"),
                                      seed=options["seed"], time_scale=SIM_TIME_FACTOR)
            except DomainError as exc:
                raise usage(str(exc)) from None
            specs, seats, untested = seating.specs, seating.seats, seating.untested

        display = ProgressDisplay(sys.stderr, self.style, count=len(specs) + len(untested))
        kind = "simulated cards" if simulated else "GPUs"
        of_lot = f" of lot {lot}" if lot and simulated else ""
        sys.stderr.write(f"bench {bench_name}: {plan} plan on {len(specs)} {kind}{of_lot}\n")
        started = time.monotonic()
        try:
            outcomes, completed = bench_run_batch(specs=specs, plan=plan, bench_name=bench_name, notify=display,
                                                  parallel=parallel, seats=seats, untested=untested,
                                                  intake_lot=lot, simulated=simulated)
        except BenchRefused as exc:
            raise usage(str(exc)) from None
        finally:
            display.close()
        elapsed = time.monotonic() - started

        if json:
            self.stdout.write(json_module.dumps([o.as_dict() for o in outcomes], indent=2, default=str))
        else:
            self.print_table(outcomes)
        verdicts = ("pass", "warn", "fail", "error", "cancelled", "not tested")
        counts = {v: sum(o.verdict == v for o in outcomes) for v in verdicts}
        summary = f"{len(outcomes)} cards in {elapsed:.0f} s: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        sys.stderr.write(summary + "\n")
        if not completed:
            raise CommandError("cancelled: unfinished runs are cancelled and their cards back in the queue",
                               returncode=130)
        tested = len(outcomes) - counts["not tested"]
        against = sum(o.counts_against for o in outcomes)
        if against:
            raise CommandError(f"{against} of {tested} cards tested did not pass", returncode=1)

    def print_table(self, outcomes: list[CardOutcome]) -> None:
        rows = [(o.unit.asset_tag if o.unit else "—", o.model or "—", (o.unit.serial or "MISSING") if o.unit else "—",
                 o.verdict, reasons(o)) for o in outcomes]
        headers = ("asset tag", "model", "serial", "verdict", "failing or warning checks")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:4])]
        self.stdout.write("")
        self.stdout.write("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)) + "  " + headers[4])
        for row in rows:
            style = getattr(self.style, VERDICT_STYLE.get(row[3], "NOTICE"))
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                     style(row[3].ljust(widths[3]))]
            self.stdout.write("  ".join(cells) + "  " + row[4])
