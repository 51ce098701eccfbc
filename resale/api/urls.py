"""The resale API's routes, added to the project's one API router (refurb/urls.py)."""

from .views import CardReturnViewSet, ListingViewSet, MatchedSetViewSet, OrderViewSet


def register(router) -> None:
    router.register("listings", ListingViewSet, basename="listing")
    router.register("sets", MatchedSetViewSet, basename="matchedset")
    router.register("orders", OrderViewSet, basename="order")
    router.register("returns", CardReturnViewSet, basename="cardreturn")
