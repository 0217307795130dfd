"""The CuPy baseline's computations, run with NumPy as the array module: the logic is
checked here even without a GPU (the GPU itself is checked on the GPU machine)."""

import numpy as np

import impls
import scenarios
from harness.validate import compare
from impls.cupy import kernels


def _expected(name, size, phase):
    problem = scenarios.get(name).problem(size)
    step = getattr(impls.adapter("reference"), name)(problem, phase, "cpu", "eager")
    step.run()
    return problem, {k: np.array(v) for k, v in step.outputs().items()}


def test_conv_im2col_gemm_matches_reference():
    for size in ("tiny", "small"):
        problem, expected = _expected("conv", size, "forward")
        p, i = problem.params, problem.inputs
        y = kernels.conv2d(np, i["x"], i["w"], i["b"], p["stride"], p["pad"])
        ok, _, msg = compare({"y": y}, expected, scenarios.get("conv").tolerances(p, "forward"), i)
        assert ok, msg


def test_qgemm_exact_and_requantized():
    from scenarios.qgemm import output_stage

    problem, expected = _expected("qgemm", "tiny", "full")
    p, i = problem.params, problem.inputs
    acc = kernels.qgemm_accumulate(np, i["a"], i["b"], p["za"], p["zb"])
    st = output_stage(p)
    out = kernels.requantize(np, acc, st["multiplier"], st["shift"], p["zc"])
    assert acc.dtype == np.int32 and np.array_equal(acc, expected["acc"])
    assert np.array_equal(out, expected["out"])


def test_qgemm_requantize_at_gemmlowp_edges():
    """The requantize phase's kernel on tests/qgemm_edges.py's accumulators (int32 extremes,
    output zero points 0, 255 and 128), equal to the reference's phase bit for bit."""
    import impls
    from scenarios.base import Problem
    from scenarios.qgemm import output_stage
    from tests.qgemm_edges import _requantize_cases

    for name, (p, acc) in _requantize_cases(np).items():
        problem = Problem(scenarios.get("qgemm"), "edge", p, 0, {"acc": acc})
        step = impls.adapter("reference").qgemm(problem, "requantize", "cpu", "eager")
        step.run()
        st = output_stage(p)
        out = kernels.requantize(np, acc, st["multiplier"], st["shift"], p["zc"])
        assert out.dtype == np.uint8 and np.array_equal(out, step.outputs()["out"]), name


def test_sigmoid_fallbacks():
    problem, expected = _expected("sigmoid", "tiny", "forward")
    i = problem.inputs
    y = kernels.sigmoid(np, i["z"], np.empty_like(i["z"]))
    np.testing.assert_allclose(y, expected["y"], rtol=1e-6)
    dz = kernels.sigmoid_backward(np, i["dy"], i["y"], np.empty_like(i["y"]))
    np.testing.assert_allclose(dz, i["dy"] * i["y"] * (1 - i["y"]), rtol=1e-6)
