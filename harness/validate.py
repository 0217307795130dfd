"""Compare an implementation's outputs with the reference's, under the scenario's tolerances."""

from __future__ import annotations

import numpy as np


def compare(actual, expected, tolerances, inputs):
    """Returns (ok, errors, message).

    errors maps each output to its max absolute error, max error relative to the
    output's largest magnitude, and the worst ratio error / allowed (<= 1 passes).
    """
    errors, failures = {}, []
    for name, tol in tolerances.items():
        if name not in actual:
            failures.append(f"output {name!r} missing")
            continue
        got = np.asarray(actual[name])
        want = np.asarray(expected[name])
        if got.shape != want.shape:
            failures.append(f"{name}: shape {got.shape} != expected {want.shape}")
            continue
        got64, want64 = got.astype(np.float64), want.astype(np.float64)
        if tol.baseline is not None:
            start = inputs[tol.baseline].astype(np.float64)
            got64, want64 = got64 - start, want64 - start
        diff = np.abs(got64 - want64)
        if not np.all(np.isfinite(got64)):
            failures.append(f"{name}: non-finite values")
            errors[name] = {"max_abs": None, "max_rel": None, "worst_ratio": None}
            continue
        scale = float(np.abs(want64).max()) if want64.size else 0.0
        max_abs = float(diff.max()) if diff.size else 0.0
        if tol.norm_rtol is not None:
            norm = float(np.linalg.norm(want64))
            worst = float(np.linalg.norm(diff)) / (tol.norm_rtol * norm) if norm else (0.0 if not max_abs else np.inf)
            errors[name] = {
                "max_abs": max_abs,
                "max_rel": max_abs / scale if scale else max_abs,
                "norm_rel": worst * tol.norm_rtol,
                "worst_ratio": worst if np.isfinite(worst) else None,
            }
            if worst > 1.0:
                what = "update" if tol.baseline else "value"
                failures.append(
                    f"{name}: {what} off by {worst * tol.norm_rtol:.3g} of its norm (must be within {tol.norm_rtol:g})"
                )
            continue
        bound = tol.bound(want64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(diff == 0, 0.0, diff / bound)
        worst = float(ratio.max()) if ratio.size else 0.0
        errors[name] = {
            "max_abs": max_abs,
            "max_rel": max_abs / scale if scale else max_abs,
            # infinite where an exact output (zero tolerance) differs at all
            "worst_ratio": worst if np.isfinite(worst) else None,
        }
        if worst > 1.0:
            what = "update" if tol.baseline else "value"
            allowed = "exactly" if not bound.any() else tol.describe()
            first = f", the first at index {int(np.argmax(ratio.reshape(-1) > 1))}" if tol.growth is not None else ""
            failures.append(
                f"{name}: {what} off by up to {max_abs:.3g} in {int((ratio > 1).sum())} "
                f"of {diff.size} elements{first} (must match {allowed})"
            )
    return (not failures), errors, "; ".join(failures)
