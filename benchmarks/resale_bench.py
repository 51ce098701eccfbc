"""Resale pages at scale: answer time and queries per page on a large data set.

Each page a reseller or a buyer opens (the admin change lists of cards, stock and listings, the API lists, the
storefront's list, filters and deep pages, a listing's page, the lot dashboard) is requested REQUESTS times, one
after another, from gunicorn on loopback, signed in as a reseller. Measured in the same run on the same server: a
bare Django view (`/__bench__/bare/`, same middleware and session, no work), and each page's p95 divided by the bare
view's, so the figure means the same on any machine. Limit: p95 ≤ 300 ms per page.

Queries: each page is rendered in-process at two page sizes (the admin's list_per_page, the API's page_size, the
storefront's PAGE_SIZE) and on its first and a deep page; the count must not change. (That the count does not grow
with the data either is tested at two data sizes in tests/resale/test_query_counts.py.)

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/refurb_big .venv/bin/python manage.py migrate
    DATABASE_URL=… .venv/bin/python manage.py load_catalog
    DATABASE_URL=… .venv/bin/python manage.py generate_dataset --units 100000 --lots 300 --listings 50000
    DATABASE_URL=… .venv/bin/python benchmarks/resale_bench.py [--requests 40] [--workers 2] [--json]

Exit status 1 when a page misses the limit or its query count changes with the page size or page.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MS = 300.0
BARE = "/__bench__/bare/"


@dataclass
class Page:
    name: str
    path: str
    size_knob: str = ""  # "admin:<app>.<model>", "api" or "store": how its page size is varied when counting
    deep_path: str = ""  # the same list further down, counted too
    queries: list[int] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[math.ceil(0.95 * len(ordered)) - 1]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.times_ms)


def pages() -> list[Page]:
    """The pages, with ids taken from the data set (a model on sale, the storefront's last page, a listing)."""
    from inventory.models import Lot, Unit
    from resale.choices import Channel, ListingStatus
    from resale.models import Listing
    from resale.storefront import PAGE_SIZE

    on_store = Listing.objects.filter(status=ListingStatus.ACTIVE, channel=Channel.STOREFRONT)
    listing = on_store.order_by("-published_at", "-id").first()
    if listing is None:
        sys.exit("no active storefront listing: build the data set first (manage.py generate_dataset, see --help)")
    store_last = max(1, math.ceil(on_store.count() / PAGE_SIZE))
    api_last = max(1, math.ceil(Unit.objects.count() / 50))
    lot = Lot.objects.order_by("-id").first()
    return [
        Page("admin: cards", "/admin/inventory/unit/", "admin:inventory.unit", "/admin/inventory/unit/?p=400"),
        Page("admin: cards, certified", "/admin/inventory/unit/?state__exact=certified", "admin:inventory.unit"),
        Page("admin: cards, one lot", f"/admin/inventory/unit/?lot__id__exact={lot.pk}", "admin:inventory.unit"),
        Page("admin: stock for sale", "/admin/resale/stock/", "admin:resale.stock", "/admin/resale/stock/?p=100"),
        Page("admin: stock, fits 13B INT4", "/admin/resale/stock/?fits=13b-int4", "admin:resale.stock"),
        Page("admin: listings", "/admin/resale/listing/", "admin:resale.listing", "/admin/resale/listing/?p=300"),
        Page("admin: listings, active eBay", "/admin/resale/listing/?channel__exact=ebay&status__exact=active",
             "admin:resale.listing"),
        Page("API: units", "/api/units/", "api", f"/api/units/?page={api_last // 2}"),
        Page("API: listings", "/api/listings/", "api", "/api/listings/?page=500"),
        Page("API: listings, active", "/api/listings/?status=active", "api"),
        Page("API: sets", "/api/sets/", "api"),
        Page("API: orders", "/api/orders/", "api", "/api/orders/?page=200"),
        Page("API: returns", "/api/returns/", "api", "/api/returns/?page=20"),
        Page("store", "/store/", "store", f"/store/?page={store_last}"),
        Page("store: model", f"/store/?model={listing.gpu_model.slug}", "store"),
        Page("store: fits 13B INT4, F-B or better, by price", "/store/?fits=13b-int4&grade=F-B&sort=price", "store"),
        Page("store: 24 GB, under 900, most memory", "/store/?vram=24&price_max=900&sort=vram", "store"),
        Page("store: a listing", f"/store/{listing.pk}/"),
        Page("dashboard", "/admin/dashboard/"),
    ]


@contextmanager
def swapped(owner, name: str, value):
    before = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, before)


@contextmanager
def page_size(knob: str, size: int):
    """The page size of one list, for the in-process query count; yields what to add to the URL."""
    if knob.startswith("admin:"):
        from django.apps import apps
        from django.contrib import admin

        with swapped(admin.site._registry[apps.get_model(knob.split(":", 1)[1])], "list_per_page", size):
            yield ""
    elif knob == "store":
        from resale import storefront

        with swapped(storefront, "PAGE_SIZE", size):
            yield ""
    else:
        yield f"page_size={size}" if knob == "api" else ""


def with_query(path: str, extra: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{extra}" if extra else path


def count_queries(client, page: Page) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    variants = [(page.path, "", 0)]
    if page.size_knob:
        variants = [(page.path, page.size_knob, 10), (page.path, page.size_knob, 100)]
    if page.deep_path:
        variants.append((page.deep_path, "", 0))
    for path, knob, size in variants:
        with page_size(knob, size) as extra:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(with_query(path, extra))
        if response.status_code != 200:
            sys.exit(f"{page.name}: {path} answered {response.status_code} in-process")
        page.queries.append(len(captured))


def timed_get(port: int, path: str, cookie: str) -> tuple[float, int, int]:
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"Cookie": cookie, "Host": "127.0.0.1"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return (time.perf_counter() - start) * 1000, response.status, len(body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page (after 3 to warm up)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refurb_big")
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.bench_settings"
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from core.roles import RESELLER
    from inventory.models import Lot, Unit
    from inventory.roles import roles_sync
    from resale.models import Listing, Order

    data = {"cards": Unit.objects.count(), "lots": Lot.objects.count(), "listings": Listing.objects.count(),
            "orders": Order.objects.count(), "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]}
    roles_sync()
    user, _ = User.objects.get_or_create(username="bench-reseller", defaults={"is_staff": True})
    user.groups.set([Group.objects.get(name=RESELLER)])
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    measured = pages()
    for page in measured:
        count_queries(client, page)

    port = 19000 + os.getpid() % 1000
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "refurb.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--timeout", "120", "--log-level", "warning"], cwd=ROOT, env=env)
    bare = Page("bare Django view", BARE)
    try:
        for _ in range(200):
            try:
                timed_get(port, BARE, cookie)
                break
            except OSError:
                time.sleep(0.1)
        # Interleaved rounds (every page once per round), so that a slow minute on a shared machine lands on every
        # page alike rather than on whichever page was being measured.
        for round_ in range(3 + args.requests):
            for page in (bare, *measured):
                elapsed, status, _ = timed_get(port, page.path, cookie)
                if status != 200:
                    sys.exit(f"{page.name}: {page.path} answered {status}")
                if round_ >= 3:
                    page.times_ms.append(elapsed)
    finally:
        server.terminate()
        server.wait(10)

    failed = []
    rows = []
    for page in measured:
        constant = len(set(page.queries)) == 1
        within = page.p95_ms <= LIMIT_MS
        if not (constant and within):
            failed.append(page.name)
        rows.append({"page": page.name, "path": page.path, "queries": page.queries, "constant_queries": constant,
                     "p50_ms": round(page.p50_ms, 1), "p95_ms": round(page.p95_ms, 1),
                     "p95_vs_limit": round(page.p95_ms / LIMIT_MS, 2),
                     "p95_vs_bare": round(page.p95_ms / bare.p95_ms, 1)})
    result = {"data": data, "requests_per_page": args.requests, "workers": args.workers, "limit_ms": LIMIT_MS,
              "bare": {"p50_ms": round(bare.p50_ms, 2), "p95_ms": round(bare.p95_ms, 2)}, "pages": rows,
              "failed": failed}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"data: {data['cards']} cards, {data['lots']} lots, {data['listings']} listings, {data['orders']} "
              f"orders ({data['database']}); {args.requests} requests per page, gunicorn {args.workers} workers")
        print(f"bare Django view: p50 {bare.p50_ms:.2f} ms, p95 {bare.p95_ms:.2f} ms")
        width = max(len(r["page"]) for r in rows)
        print(f"{'page':<{width}}  {'queries':<18} {'p50 ms':>8} {'p95 ms':>8} {'÷ 300 ms':>9} {'÷ bare':>7}")
        for r in rows:
            queries = "/".join(str(q) for q in r["queries"]) + ("" if r["constant_queries"] else " (varies)")
            print(f"{r['page']:<{width}}  {queries:<18} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p95_vs_limit']:>9} "
                  f"{r['p95_vs_bare']:>7}")
        print("all pages within 300 ms at p95, with constant queries" if not failed else f"FAILED: {', '.join(failed)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
