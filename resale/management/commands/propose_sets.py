"""python manage.py propose_sets [--model M] [--tolerance 0.03] [--size N] [--create]: matched sets from stock."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import InvalidInput
from inventory.models import Unit
from inventory.services import CatalogIndex
from resale.services import DEFAULT_TOLERANCE, set_create, sets_propose


class Command(BaseCommand):
    help = ("Propose matched sets of certified cards (same model, memory bandwidth and FP16 throughput within the "
            "tolerance of the set's median, VRAM test passed): largest first, then the tightest. --create makes "
            "them.")

    def add_arguments(self, parser):
        parser.add_argument("--model", help="Only this catalog model (name, alias or slug)")
        parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                            help="Share of the median each card may lie from it (default 0.03: ±3 %%)")
        parser.add_argument("--size", type=int, help="Only sets of exactly this many cards (2–8)")
        parser.add_argument("--limit", type=int, help="At most this many sets")
        parser.add_argument("--create", action="store_true", help="Create the proposed sets")

    def handle(self, *args, **opts):
        model = None
        if opts["model"]:
            resolution = CatalogIndex().resolve(opts["model"])
            if resolution.model is None:
                raise CommandError(f"--model: {resolution.error}")
            model = resolution.model
        try:
            proposals = sets_propose(gpu_model=model, tolerance=opts["tolerance"], size=opts["size"],
                                     limit=opts["limit"])
        except InvalidInput as exc:
            raise CommandError("\n".join(f"--{k}: {' '.join(v)}" for k, v in exc.errors.items())) from None
        if not proposals:
            self.stdout.write("No sets: too few certified cards within the tolerance of each other.")
            return
        for proposal in proposals:
            figures = proposal.figures
            line = (f"{len(proposal.cards)} × {proposal.gpu_model.name:<24} within {proposal.spread:6.2%}  "
                    f"bandwidth {figures['memory_bandwidth_gbs']['median']:.0f} GB/s, "
                    f"FP16 {figures['fp16_tflops']['median']:.1f} TFLOP/s  "
                    f"{' '.join(c.asset_tag for c in proposal.cards)}")
            if opts["create"]:
                matched = set_create(units=list(Unit.objects.filter(pk__in=proposal.unit_ids)),
                                     tolerance=opts["tolerance"])
                line = f"set {matched.pk}: {line}"
            self.stdout.write(line)
        verb = "created" if opts["create"] else "proposed (run again with --create to make them)"
        self.stdout.write(self.style.SUCCESS(f"{len(proposals)} set(s) {verb}."))
