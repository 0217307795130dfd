"""dlbench's harness: planning, worker processes, measuring, environments and the CLI."""

__version__ = "0.1.0"
# the results format (SCHEMA_VERSION) is the records package's: records/record.py
