"""Rate limits of the public verification endpoints: per client address, counted in the default cache."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class VerifyRateThrottle(SimpleRateThrottle):
    scope = "verify"

    def get_rate(self):
        return settings.REFURB_VERIFY_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
