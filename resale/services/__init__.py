"""Resale's services: listings and their lifecycle, pricing, matched sets, orders and returns, exports and imports.
Views, admin actions and commands call these; each is one transaction."""

from .listings import (
    LISTABLE_STATES,
    MAX_SET,
    listing_create,
    listing_publish,
    listing_sell,
    listing_text_regenerate,
    listing_update,
    listing_withdraw,
    listings_follow_move,
)
from .pricing import (
    Quote,
    listing_price_set,
    listing_quote,
    pricing_policy_create,
    pricing_rules_current,
    reference_prices,
    reference_prices_import,
)
from .returns import return_receive, return_window_end
from .sets import DEFAULT_TOLERANCE, SetProposal, set_create, set_dissolve, set_spread, sets_propose

__all__ = [
    "DEFAULT_TOLERANCE",
    "LISTABLE_STATES",
    "MAX_SET",
    "Quote",
    "SetProposal",
    "listing_create",
    "listing_price_set",
    "listing_publish",
    "listing_quote",
    "listing_sell",
    "listing_text_regenerate",
    "listing_update",
    "listing_withdraw",
    "listings_follow_move",
    "pricing_policy_create",
    "pricing_rules_current",
    "reference_prices",
    "reference_prices_import",
    "return_receive",
    "return_window_end",
    "set_create",
    "set_dissolve",
    "set_spread",
    "sets_propose",
]
