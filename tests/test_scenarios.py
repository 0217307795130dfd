"""Scenarios are deterministic data with consistent work counts."""
import numpy as np
import pytest

import scenarios
from scenarios.qgemm import output_stage, quantize_multiplier


@pytest.mark.parametrize("name", scenarios.names())
def test_inputs_are_deterministic_per_seed(name):
    s = scenarios.get(name)
    a, b, c = s.problem("tiny", 0), s.problem("tiny", 0), s.problem("tiny", 1)
    assert a.inputs.keys() == b.inputs.keys()
    for k in a.inputs:
        np.testing.assert_array_equal(a.inputs[k], b.inputs[k])
    assert any(not np.array_equal(a.inputs[k], c.inputs[k]) for k in a.inputs)
    assert a.key() == b.key() != c.key()


@pytest.mark.parametrize("name", scenarios.names())
def test_work_counts_grow_with_size(name):
    s = scenarios.get(name)
    for phase in s.phases:
        sizes = ["tiny", "small", "medium", "large"]
        flops = [s.flops(s.params(z), phase) for z in sizes]
        nbytes = [s.bytes_moved(s.params(z), phase) for z in sizes]
        assert flops == sorted(flops) and flops[0] > 0
        assert nbytes == sorted(nbytes) and nbytes[0] > 0


def test_conv_flops_formula():
    s = scenarios.get("conv")
    p = s.params("small")  # LeNet layer: 64 x 32->64, 5x5 on 14x14, pad 2
    assert s.flops(p, "forward") == 2 * 64 * 64 * 14 * 14 * 32 * 25 + 64 * 64 * 14 * 14


def test_sigmoid_is_memory_bound_conv_is_not():
    sig, conv = scenarios.get("sigmoid"), scenarios.get("conv")
    assert sig.memory_bound("forward", sig.params("medium"))
    assert not conv.memory_bound("forward", conv.params("medium"))


def test_qgemm_output_stage_constants():
    for size in ("tiny", "small", "medium", "large", "skinny"):
        st = output_stage(scenarios.get("qgemm").params(size))
        assert (1 << 30) <= st["multiplier"] < (1 << 31) and st["shift"] > 0
    with pytest.raises(ValueError):
        quantize_multiplier(1.5)


def test_qgemm_phases_each_count_their_own_work():
    s = scenarios.get("qgemm")
    assert s.phases == ("gemm", "requantize", "full") and s.work_unit == "OP"
    for size in ("tiny", "small", "medium", "large", "skinny"):
        p = s.params(size)
        m, k, n = p["m"], p["k"], p["n"]
        assert s.flops(p, "gemm") == 2 * m * n * k
        assert s.bytes_moved(p, "gemm") == m * k + k * n + 4 * m * n
        assert s.flops(p, "requantize") == 4 * m * n  # gemmlowp's four primitives per element
        assert s.bytes_moved(p, "requantize") == 4 * m * n + m * n  # int32 in, uint8 out
        assert s.flops(p, "full") == s.flops(p, "gemm") + s.flops(p, "requantize")
        assert s.bytes_moved(p, "full") == m * k + k * n + 5 * m * n
        # the GEMM and the whole operation are held to the int8 GEMM peak, the output stage to bandwidth
        assert not s.memory_bound("gemm", p) and not s.memory_bound("full", p)
        assert s.memory_bound("requantize", p)
        # every output integer and validated bit for bit
        assert set(s.tolerances(p, "gemm")) == {"acc"} and set(s.tolerances(p, "requantize")) == {"out"}
        for phase in s.phases:
            assert all(t.atol == t.rtol == t.atol_scale == 0 for t in s.tolerances(p, phase).values())
    with pytest.raises(KeyError, match="no phase 'forward'"):
        s.flops(s.params("tiny"), "forward")


def test_qgemm_accumulator_input_is_exact():
    """requantize's input: the exact int32 accumulator of the scenario's own operands."""
    problem = scenarios.get("qgemm").problem("small")
    p, i = problem.params, problem.inputs
    exact = (i["a"].astype(np.int64) - p["za"]) @ (i["b"].astype(np.int64) - p["zb"])
    assert i["acc"].dtype == np.int32 and i["acc"].shape == (p["m"], p["n"])
    np.testing.assert_array_equal(i["acc"], exact)
    assert np.abs(exact).max() > 1 << 16  # past int16


def test_unknown_size_is_clear():
    with pytest.raises(KeyError, match="has no size 'huge'"):
        scenarios.get("conv").params("huge")


def test_working_set_is_what_one_call_touches():
    sig, cls = scenarios.get("sigmoid"), scenarios.get("classifier")
    p = sig.params("small")  # 1M elements: x and y, then dy, y and dz, each touched once
    assert sig.working_set(p, "forward") == sig.bytes_moved(p, "forward") == 8 * (1 << 20)
    assert sig.working_set(p, "backward") == 12 * (1 << 20)
    for phase in cls.phases:  # a training step passes over its activations several times
        for size in cls.sizes:
            ws, moved = cls.working_set(cls.params(size), phase), cls.bytes_moved(cls.params(size), phase)
            assert 0 < ws <= moved and (ws < moved) == (phase == "train_step")
