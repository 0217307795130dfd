"""Validation: exact, elementwise and whole-tensor tolerances."""

import numpy as np

from harness.validate import compare
from scenarios.base import Tolerance


def test_exact_integer_output():
    want = np.arange(10, dtype=np.int32)
    ok, err, _ = compare({"acc": want.copy()}, {"acc": want}, {"acc": Tolerance(0, 0)}, {})
    assert ok and err["acc"]["max_abs"] == 0
    got = want.copy()
    got[3] += 1
    ok, err, msg = compare({"acc": got}, {"acc": want}, {"acc": Tolerance(0, 0)}, {})
    assert not ok and "must match exactly" in msg and "1 of 10 elements" in msg
    assert err["acc"]["worst_ratio"] is None  # infinite, stored as null


def test_within_one_and_missing_or_misshapen_outputs():
    want = np.array([10, 20, 30], dtype=np.uint8)
    tol = {"out": Tolerance(atol=1)}
    assert compare({"out": want + 1}, {"out": want}, tol, {})[0]
    assert not compare({"out": want + 2}, {"out": want}, tol, {})[0]
    assert "missing" in compare({}, {"out": want}, tol, {})[2]
    assert "shape" in compare({"out": want[:2]}, {"out": want}, tol, {})[2]
    assert "non-finite" in compare({"out": np.array([np.nan, 1, 2])}, {"out": want}, tol, {})[2]


def test_update_norm_tolerates_one_kink_flip_not_a_wrong_gradient():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((64, 32, 5, 5)).astype(np.float32)
    update = 1e-3 * rng.standard_normal(w0.shape).astype(np.float32)
    want = w0 - update
    tol = {"w": Tolerance(baseline="w", norm_rtol=1e-2)}
    flipped = want.copy()
    flipped[5, 0, 1, :] += 0.1 * np.abs(update).max()  # one patch routed elsewhere
    assert compare({"w": flipped}, {"w": want}, tol, {"w": w0})[0]
    scaled = w0 - 1.05 * update  # a gradient 5% off everywhere
    ok, _, msg = compare({"w": scaled}, {"w": want}, tol, {"w": w0})
    assert not ok and "of its norm" in msg
    one_filter_wrong = want.copy()
    one_filter_wrong[7] = w0[7]  # one output channel never updated
    assert not compare({"w": one_filter_wrong}, {"w": want}, tol, {"w": w0})[0]
    # compared as an update: on the raw weights the same 5% error would hide under 1e-2
    assert compare({"w": scaled}, {"w": want}, {"w": Tolerance(norm_rtol=1e-2)}, {})[0]


def test_a_trajectory_bound_doubles_per_step_up_to_its_cap():
    tol = Tolerance(rtol=1e-4, growth=2.0, growth_cap=8.0)
    want = np.ones(6)
    assert np.allclose(tol.bound(want), 1e-4 * np.array([1, 2, 4, 8, 8, 8]))
    late = want.copy()
    late[5] += 7e-4  # within 8 x 1e-4 late in the run
    assert compare({"l": late}, {"l": want}, {"l": tol}, {})[0]
    early = want.copy()
    early[1] += 3e-4  # over 2 x 1e-4 at the second step: a wrong step shows at once
    ok, _, message = compare({"l": early}, {"l": want}, {"l": tol}, {})
    assert not ok and "the first at index 1" in message and "x2 per step up to x8" in message
