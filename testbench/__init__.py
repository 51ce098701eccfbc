"""Test bench: the device layer, GPU checks and test runs (built out by the test bench issue)."""
