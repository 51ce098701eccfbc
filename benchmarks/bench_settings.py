"""The project's settings with benchmarks.bench_urls: the project's URLs plus one bare view, for benchmarks that
compare a page with what the same server answers for a view that does no work. Never used by the project itself."""

from refurb.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_urls"
