"""dlbench's harness: planning, worker processes, measuring, environments and the CLI."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
