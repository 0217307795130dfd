"""Reports: pandas over stored results. Nothing here runs a benchmark."""
from .load import LoadError, load
from .table import results_table

__all__ = ["LoadError", "load", "results_table"]
