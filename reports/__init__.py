"""Reports: pandas over stored results. Nothing here runs a benchmark.

load -> one row per cell (reports.load); metrics adds rates, speedups and % of peak,
precision the intervals, the digits they support and the flags (contended, noisy,
ceiling-low); table, side_by_side and formats print them; html writes the
self-contained report.
"""

from .load import LoadError, Source, load, load_sources
from .table import cells_table, results_table

__all__ = ["LoadError", "Source", "cells_table", "load", "load_sources", "results_table"]
