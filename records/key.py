"""A cell's identity: the fields that say which measurement a record is.

The seed is one of them: a different seed draws different inputs, so two records that
differ only in it are two cells, for resume, the database, compare, bisect and reports
alike. A view that matches cells across something (a merged report across machines
ignores threads) drops fields from this one tuple with key_fields(without=...).
The ranks are one too: the same training step over two ranks is another measurement
(the batch split, a collective in every step) than over one, and so is how a training
step's batch is split over them (scaling: "weak", each rank the size's batch; "strong", the
size's batch divided among the ranks; "" where nothing is split: one rank, a collective).
"""

from collections.abc import Mapping

KEY_FIELDS = ("scenario", "phase", "size", "impl", "device", "mode", "threads", "ranks", "scaling", "seed")
PROBLEM = KEY_FIELDS[:3]  # what a cell computes, whichever implementation runs it: a report's rows


def key_fields(without=()):
    """KEY_FIELDS in order, less those named in `without` (a misspelt name is an error)."""
    unknown = set(without) - set(KEY_FIELDS)
    if unknown:
        raise ValueError(f"not key fields: {', '.join(sorted(unknown))}")
    return tuple(f for f in KEY_FIELDS if f not in without)


def key(cell, fields=KEY_FIELDS):
    """The key tuple of a record or any dict holding the fields, or of an object that has
    them as attributes (harness.plan.Cell)."""
    if isinstance(cell, Mapping):
        return tuple(cell[f] for f in fields)
    return tuple(getattr(cell, f) for f in fields)
