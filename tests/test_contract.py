"""The adapter contract as code (impls.base): every implementation here answers it, and a
package that does not is one clear line at `dlbench list`, never run."""

import types

import numpy as np
import pytest

import impls
from cli.main import main
from impls import common
from impls.base import MalformedImplementation, Manifest, check_adapter_module
from tests.conftest import dlbench

GOOD_ADAPTER = (
    "from impls.reference.adapter import configure, device_unavailable, peak_device_memory, probe, "
    "sigmoid, sync  # noqa: F401\n"
)
MANIFEST = "from impls.base import Manifest\nMANIFEST = Manifest({})\n"
ARGS = 'name="{name}", description="test", modes=("eager",), devices=("cpu",), install_hint="nothing"'

# package -> (__init__.py, adapter.py, the line `dlbench list` must print)
BROKEN = {
    "noman": (
        'NAME = "noman"\nMODES = ("eager",)\n',
        GOOD_ADAPTER,
        "noman       MALFORMED: {dir}/noman: __init__.py defines no MANIFEST = impls.base.Manifest(...)",
    ),
    "badmodes": (
        MANIFEST.format(ARGS.format(name="badmodes").replace('("eager",)', '"eager"')),
        GOOD_ADAPTER,
        "badmodes    MALFORMED: {dir}/badmodes: Manifest.modes must be a tuple of names, not 'eager'",
    ),
    "baddevice": (
        MANIFEST.format(ARGS.format(name="baddevice").replace('("cpu",)', '("tpu",)')),
        GOOD_ADAPTER,
        "baddevice   MALFORMED: {dir}/baddevice: Manifest.devices must be some of cpu, cuda, not ('tpu',)",
    ),
    "wrongname": (
        MANIFEST.format(ARGS.format(name="other")),
        GOOD_ADAPTER,
        "wrongname   MALFORMED: {dir}/wrongname: MANIFEST.name is 'other', not the package's name 'wrongname'",
    ),
    "noconf": (
        MANIFEST.format(ARGS.format(name="noconf")),
        "from impls.reference.adapter import probe, sigmoid, sync  # noqa: F401\n",
        "noconf      MALFORMED: {dir}/noconf: adapter.py defines no configure(), device_unavailable(), "
        "peak_device_memory() (the contract: impls/base.py, Adapter)",
    ),
    "noadapter": (
        MANIFEST.format(ARGS.format(name="noadapter")),
        None,
        "noadapter   MALFORMED: {dir}/noadapter: no adapter.py",
    ),
    "syntax": (
        MANIFEST.format(ARGS.format(name="syntax")),
        "def probe(:\n",
        "syntax      MALFORMED: {dir}/syntax: adapter.py line 1: invalid syntax",
    ),
}


@pytest.fixture
def broken_impls(tmp_path, monkeypatch):
    folder = tmp_path / "extra"
    for name, (manifest, adapter, _) in BROKEN.items():
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(manifest)
        if adapter is not None:
            (folder / name / "adapter.py").write_text(adapter)
    monkeypatch.setenv("DLBENCH_EXTRA_IMPLS", str(folder))
    impls.__path__.append(str(folder))
    yield folder
    impls.__path__.remove(str(folder))


def test_every_implementation_here_answers_the_contract():
    assert impls.malformed() == {}
    assert impls.names() == ["reference", "cupy", "dlib", "mxnet", "tensorflow", "torch"]
    for name in impls.names():
        m = impls.manifest(name)
        assert isinstance(m, Manifest) and m.name == name and m.modes[0] == "eager"


@pytest.mark.slow  # `dlbench list` probes every framework
def test_a_malformed_implementation_is_one_line_at_list_and_never_runs(broken_impls, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for _, _, line in BROKEN.values():
        assert "  " + line.format(dir=broken_impls) in out.splitlines()
    assert set(impls.malformed()) == set(BROKEN) and not set(BROKEN) & set(impls.names())
    # named in --impl: one line, exit 2; by default: left out, saying so
    assert dlbench("run --impl noconf --scenario sigmoid --size tiny") == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "dlbench run: implementation 'noconf' cannot run: "
        + BROKEN["noconf"][2].split("MALFORMED: ")[1].format(dir=broken_impls)
    )
    with pytest.raises(MalformedImplementation, match="defines no configure"):
        impls.manifest("noconf")


def test_the_worker_checks_the_imported_adapter_signatures():
    ok = types.SimpleNamespace(
        probe=lambda: {},
        configure=lambda threads: None,
        device_unavailable=lambda d: None,
        sync=lambda d: None,
        peak_device_memory=lambda d, reset=False: None,
        conv=lambda problem, phase, device, mode: None,
    )
    assert check_adapter_module(ok, ["conv", "sigmoid"]) is None
    bad = types.SimpleNamespace(
        **{**vars(ok), "configure": lambda: None, "sync": 3, "conv": lambda problem, phase: None}
    )
    assert check_adapter_module(bad, ["conv"]) == (
        "configure() does not take 1 positional arguments; sync is not a "
        "function; conv() does not take 4 positional arguments"
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(modes=()), "Manifest.modes names no mode"),
        (dict(install_hint=" "), "Manifest.install_hint must be a non-empty string"),
        (dict(environment=""), "Manifest.environment must be None or a name, not ''"),
        (dict(worker_env={"X": 1}), "Manifest.worker_env must map variable names to strings"),
        (dict(thread_variables="OMP"), "Manifest.thread_variables must be a tuple of names, not 'OMP'"),
    ],
)
def test_a_manifest_is_checked_when_made(fields, message):
    base = dict(name="x", description="d", modes=("eager",), devices=("cpu",), install_hint="make venv")
    with pytest.raises(MalformedImplementation) as exc:
        Manifest(**{**base, **fields})
    assert str(exc.value) == message


def test_an_adapter_builds_exactly_the_modes_its_manifest_declares():
    manifest = Manifest(name="x", description="d", modes=("eager", "graph"), devices=("cpu",), install_hint="-")
    assert common.by_mode(manifest, eager=str, graph=repr)["graph"] is repr
    with pytest.raises(MalformedImplementation, match="builds modes eager; the manifest declares eager, graph"):
        common.by_mode(manifest, eager=str)  # a declared mode it cannot build: refused at import, not in a cell


def test_a_shared_step_syncs_its_device_and_puts_the_weights_back_in_place():
    synced, weights = [], [np.zeros(3), np.ones(2)]

    def train():
        for w in weights:
            w += 5

    reset = common.resetter(weights, [w.copy() for w in weights], np.copyto)
    step = common.stepper(synced.append)(train, dict, "cuda", reset)
    step.run()
    step.sync()
    step.reset()
    assert synced == ["cuda"] and weights[0].tolist() == [0, 0, 0] and weights[1].tolist() == [1, 1]
