"""Resale: listings of certified cards on sales channels, sold once (issue 13, built out in steps)."""
