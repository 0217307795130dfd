"""Timing helpers the worker side shares: below impls (adapters' peaks() use them) and
harness, so neither has to import the other. NumPy and the standard library only."""
