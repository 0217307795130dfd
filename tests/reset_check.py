"""Does a training step's reset really put it back? Run in the implementation's own
interpreter (MXNet's is not the tests'): `python -m tests.reset_check IMPL MODE...`.

For each mode and each training cell at `tiny`: one step (the validated one), then
cycles of many steps, a reset, and one more step. Prints one JSON line: per
"mode/scenario", the largest difference between the weights after each reset and the
initial inputs, and between the state one step after each reset and the state after
the very first step (a compiled graph that kept its own copy of the weights would
differ), and how far the steps had moved the weights from the initial ones (what the
reset undid).
"""

import json
import sys

import numpy as np

import impls
import scenarios

TRAINING = (("classifier", "train_step"), ("gan", "step"))
CYCLES, STEPS = 3, 20


def _copy(outputs):
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in outputs.items()}


def _worst(a, b, names):
    return max(float(np.abs(a[n] - b[n]).max()) for n in names)


def check(adapter, scenario_name, phase, mode):
    problem = scenarios.get(scenario_name).problem("tiny")
    step = getattr(adapter, scenario_name)(problem, phase, "cpu", mode)
    if step.reset is None:
        return {"reset": False}
    step.run()
    step.sync()
    first = _copy(step.outputs())
    weights = [n for n in first if not n.startswith("loss")]
    initial = {n: problem.inputs[n].astype(np.float64) for n in weights}
    res = {
        "reset": True,
        "moved": 0.0,
        "reset_vs_initial": 0.0,
        "step_vs_first": 0.0,
        "first_loss": {n: first[n].item() for n in first if n.startswith("loss")},
    }
    for _ in range(CYCLES):
        for _ in range(STEPS):
            step.run()
        step.sync()
        res["moved"] = max(res["moved"], _worst(_copy(step.outputs()), initial, weights))
        step.reset()
        step.sync()
        res["reset_vs_initial"] = max(res["reset_vs_initial"], _worst(_copy(step.outputs()), initial, weights))
        step.run()
        step.sync()
        res["step_vs_first"] = max(res["step_vs_first"], _worst(_copy(step.outputs()), first, list(first)))
    return res


def main(impl, modes):
    try:
        adapter = impls.adapter(impl)
    except ImportError as exc:  # the test fails, saying why and the fix
        print(json.dumps({"not_installed": str(exc)}))
        return
    adapter.configure(1)  # one thread: the same step twice gives the same bits
    out = {}
    for mode in modes:
        for scenario_name, phase in TRAINING:
            out[f"{mode}/{scenario_name}"] = check(adapter, scenario_name, phase, mode)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
