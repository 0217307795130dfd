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


# the task layer's trials count no work (it depends on the epochs they take: tests/test_task.py)
@pytest.mark.parametrize("name", [n for n in scenarios.names() if not scenarios.get(n).trials])
def test_work_counts_grow_with_size(name):
    s = scenarios.get(name)
    ranks = 2 if s.parallel_phases else 1  # a collective over one rank has nothing to add
    for phase in s.phases:
        sizes = ["tiny", "small", "medium", "large"]
        flops = [s.flops(s.params(z, ranks), phase) for z in sizes]
        nbytes = [s.bytes_moved(s.params(z, ranks), phase) for z in sizes]
        assert flops == sorted(flops) and flops[0] > 0
        assert nbytes == sorted(nbytes) and nbytes[0] > 0


def test_conv_flops_formula():
    s = scenarios.get("conv")
    p = s.params("small")  # LeNet layer: 64 x 32->64, 5x5 on 14x14, pad 2
    # 5x5 taps at pad 2 over 14 pixels: 64 of the 70 (output, tap) pairs per axis land on
    # the input; the taps on the zero padding are not work
    assert s.flops(p, "forward") == 2 * 64 * 64 * 32 * 64 * 64 + 64 * 64 * 14 * 14


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
    # worked by hand: gemm 2mnk OP over A (mk) + B (kn) + int32 C (4mn) bytes; requantize
    # gemmlowp's four primitives per element, int32 in and uint8 out (4mn + mn bytes);
    # full both, writing the int32 accumulator and the uint8 output (mk + kn + 4mn + mn bytes)
    work = {  # size: (m, k, n), {phase: (OP, bytes)}
        "tiny": (
            (5, 64, 12),
            {"gemm": (7680, 320 + 768 + 240), "requantize": (240, 240 + 60), "full": (7920, 320 + 768 + 240 + 60)},
        ),
        "small": (
            (256, 256, 256),
            {"gemm": (33554432, 393216), "requantize": (262144, 327680), "full": (33816576, 458752)},
        ),
        "skinny": (
            (16, 2048, 2048),
            {"gemm": (134217728, 4358144), "requantize": (131072, 163840), "full": (134348800, 4390912)},
        ),
    }
    for size, (mkn, phases) in work.items():
        p = s.params(size)
        assert (p["m"], p["k"], p["n"]) == mkn
        assert {phase: (s.flops(p, phase), s.bytes_moved(p, phase)) for phase in s.phases} == phases, size
    for size in ("tiny", "small", "medium", "large", "skinny"):
        p = s.params(size)
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


def test_network_weights_follow_from_the_layer_facts():
    """The weight table each network scenario derives from its layers (scenarios.layers):
    the architectures the docstrings describe, shapes and He fan-ins as before the facts
    were written once."""
    from scenarios import classifier, gan

    assert classifier.WEIGHTS == (
        ("conv1_w", (32, 1, 5, 5), 25),
        ("conv1_b", (32,), None),
        ("conv2_w", (64, 32, 5, 5), 800),
        ("conv2_b", (64,), None),
        ("fc1_w", (3136, 1024), 3136),
        ("fc1_b", (1024,), None),
        ("fc2_w", (1024, 10), 1024),
        ("fc2_b", (10,), None),
    )
    assert gan.WEIGHTS == (
        ("g_fc_w", (100, 6272), 100),
        ("g_fc_b", (6272,), None),
        ("g_ct1_w", (128, 64, 4, 4), 512),
        ("g_ct1_b", (64,), None),
        ("g_ct2_w", (64, 1, 4, 4), 256),
        ("g_ct2_b", (1,), None),
        ("d_c1_w", (64, 1, 4, 4), 16),
        ("d_c1_b", (64,), None),
        ("d_c2_w", (128, 64, 4, 4), 1024),
        ("d_c2_b", (128,), None),
        ("d_fc_w", (6272, 1), 6272),
        ("d_fc_b", (1,), None),
    )
    assert classifier.FLAT_SHAPE == (64, 7, 7) and gan.D_FLAT == (128, 7, 7) and gan.G_START == (128, 7, 7)


def test_gan_generator_makes_the_images_its_discriminator_takes():
    from scenarios import gan

    side = gan.G_CT2.out_size(gan.G_CT1.out_size(gan.G_START[2]))
    assert side == gan.IMAGE == 28 and gan.G_CT2.c_out == gan.D_C1.c_in == 1
    assert gan.D_C2.out_size(gan.D_C1.out_size(gan.IMAGE)) == gan.D_FLAT[1]
    assert gan.make_inputs(gan.SIZES["tiny"], 0)["real"].shape == (2, 1, 28, 28)


def test_layer_facts_give_output_sizes_and_work():
    from scenarios.layers import Conv, Dense

    down, up = Conv(3, 8, kernel=4, stride=2, pad=1), Conv(8, 3, kernel=4, stride=2, pad=1, transposed=True)
    assert down.out_size(28) == 14 and up.out_size(14) == 28
    assert down.weight_shape == (8, 3, 4, 4) and up.weight_shape == (8, 3, 4, 4)
    # 4 taps at stride 2, pad 1 over 28 pixels: 14 outputs x 4 taps, less the 2 that fall on padding
    assert down.macs(2, 28) == 2 * 8 * 3 * 54 * 54
    assert up.macs(2, 14) == down.macs(2, 28)  # the transposed layer is that one's input gradient
    assert Conv(3, 8, kernel=3, pad=0).macs(1, 5) == 8 * 3 * 3 * 3 * 9  # no padding: every tap is work
    assert Conv(32, 64, kernel=5, pad=2).out_size(14) == 14 and Dense(10, 3).macs(4) == 120
