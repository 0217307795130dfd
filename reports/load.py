"""Results directories -> one pandas DataFrame, one row per cell, samples kept."""
from __future__ import annotations

import os

import pandas as pd

from harness.results import RESULTS, ResultsError, read_machine, read_records


class LoadError(ValueError):
    """Nothing loadable, or a corrupt file: the message names the file and line."""


def load(dirs):
    frames = []
    for d in dirs:
        if not os.path.isdir(d):
            raise LoadError(f"{d}: no such results directory")
        if not os.path.exists(os.path.join(d, RESULTS)):
            raise LoadError(f"{d}: no {RESULTS} here")
        try:
            records = read_records(d)
            machine = read_machine(d) or {}
        except ResultsError as exc:
            raise LoadError(str(exc)) from None
        if not records:
            raise LoadError(f"{os.path.join(d, RESULTS)}: empty, no results to report")
        df = pd.DataFrame.from_records(records)
        df["results_dir"] = d
        df["cpu_model"] = (machine.get("cpu") or {}).get("model")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
