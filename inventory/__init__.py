"""Inventory: the GPU catalog, purchase lots, units (one per card), their lifecycle and intake."""
