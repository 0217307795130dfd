"""One file per schema version, NNNN_what.py with revision "NNNN"; written by hand, frozen once released."""
