"""impls.gemmlowp's output stage, with NumPy's ops, equal to the reference's (the oracle)
bit for bit on gemmlowp's edges: no framework needed. tests/qgemm_edges.py checks the
frameworks' own op-sets through their adapters."""

import dataclasses

import numpy as np
import pytest

from impls import gemmlowp
from impls.reference import quant

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
NUMPY = gemmlowp.numpy_like(np)
UNCLAMPED = dataclasses.replace(NUMPY, clip_to_uint8=lambda a: a)  # the int64 value before the cast

MULTIPLIERS = [1 << 30, (1 << 30) + 1, 1518500250, 1895232044, (1 << 31) - 2, (1 << 31) - 1]


def _ties():
    """Accumulators whose value halved (multiplier 2^30) lands exactly halfway between two
    multiples of 2^shift, for every shift, on both signs: (2j + 1) 2^shift."""
    out = [(2 * j + 1) << s for s in range(32) for j in range(4)]
    out = [v for v in out if v <= INT32_MAX]
    return out + [-v for v in out]


def _accumulators():
    specials = [
        INT32_MIN,
        INT32_MIN + 1,
        INT32_MIN + 2,
        -(1 << 30) - 1,
        -(1 << 30),
        -(1 << 30) + 1,
        -65536,
        -3,
        -2,
        -1,
        0,
        1,
        2,
        3,
        65536,
        (1 << 30) - 1,
        1 << 30,
        (1 << 30) + 1,
        INT32_MAX - 2,
        INT32_MAX - 1,
        INT32_MAX,
    ]
    rng = np.random.default_rng(0)
    return np.concatenate(
        [
            np.array(specials + _ties(), dtype=np.int64),
            np.arange(-300, 300),
            rng.integers(INT32_MIN, INT32_MAX, 2000, endpoint=True),
            rng.integers(-(1 << 16), 1 << 16, 500),
        ]
    ).astype(np.int32)


ACC = _accumulators()


@pytest.mark.parametrize("zc", [0, 255, 128])
@pytest.mark.parametrize("multiplier", MULTIPLIERS)
def test_output_stage_equals_the_reference_at_every_shift(multiplier, zc):
    for shift in range(32):
        got = gemmlowp.output_stage(NUMPY, ACC, multiplier, shift, zc)
        want = quant.output_stage(ACC, multiplier, shift, zc)
        assert got.dtype == np.uint8 and np.array_equal(got, want), (multiplier, shift, zc)
        # before the clamp too, where zero points 0 and 255 hide one whole side
        raw = gemmlowp.output_stage(UNCLAMPED, ACC, multiplier, shift, zc)
        exact = quant.rounding_divide_by_pot(quant.saturating_rounding_doubling_high_mul(ACC, multiplier), shift)
        assert np.array_equal(raw, exact + zc), (multiplier, shift, zc)


@pytest.mark.parametrize("multiplier", [INT32_MIN, INT32_MIN + 1, -(1 << 30), -1, 0, 1])
def test_output_stage_equals_the_reference_for_any_int32_multiplier(multiplier):
    """Outside gemmlowp's Q31 range as well, INT32_MIN's one saturating product included."""
    for shift in (0, 1, 7, 31):
        raw = gemmlowp.output_stage(UNCLAMPED, ACC, multiplier, shift, 0)
        exact = quant.rounding_divide_by_pot(quant.saturating_rounding_doubling_high_mul(ACC, multiplier), shift)
        assert np.array_equal(raw, exact), (multiplier, shift)
        assert np.array_equal(
            gemmlowp.output_stage(NUMPY, ACC, multiplier, shift, 128), quant.output_stage(ACC, multiplier, shift, 128)
        )
    if multiplier == INT32_MIN:  # SRDHM(INT32_MIN, INT32_MIN) saturates to INT32_MAX
        raw = gemmlowp.output_stage(UNCLAMPED, np.array([INT32_MIN], np.int32), multiplier, 0, 0)
        assert raw.tolist() == [INT32_MAX]


def test_ties_round_away_from_zero():
    """Multiplier 2^30 halves the accumulator (SRDHM's own tie rounds up), shift 1 halves
    it again: 6 -> 3 -> 1.5 -> 2, -6 -> -3 -> -1.5 -> -2, 2 -> 1 -> 0.5 -> 1, -2 -> -1 -> -1."""
    acc = np.array([6, -6, 2, -2, 4, -4, 10, -10], np.int32)
    got = gemmlowp.output_stage(NUMPY, acc, 1 << 30, 1, 128)
    assert (got.astype(int) - 128).tolist() == [2, -2, 1, -1, 1, -1, 3, -3]
    assert np.array_equal(got, quant.output_stage(acc, 1 << 30, 1, 128))


def test_the_edge_values_reach_ties_and_both_clamps():
    """The accumulators above do exercise what they are for: exact halves for RoundingDivideByPOT,
    and outputs at 0 and 255 with levels between."""
    high = quant.saturating_rounding_doubling_high_mul(ACC, 1 << 30)
    for shift in range(1, 32):
        tie = (high & ((1 << shift) - 1)) == 1 << (shift - 1)
        assert (tie & (high < 0)).any(), shift
        assert shift == 31 or (tie & (high > 0)).any(), shift  # |high| <= 2^30: no positive tie at 31
    out = gemmlowp.output_stage(NUMPY, ACC, 1 << 30, 8, 128)
    assert out.min() == 0 and out.max() == 255 and np.unique(out).size > 200
