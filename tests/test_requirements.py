"""tests/requirements.py: a missing optional thing fails its tests with the fix; only
DLBENCH_TEST_WITHOUT skips them, and says so."""

import pytest

from tests import requirements
from tests.requirements import WITHOUT, require


def test_absent_fails_with_what_is_missing_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.delenv(WITHOUT, raising=False)
    monkeypatch.setenv("DLBENCH_DLIB_BRIDGE_DIR", str(tmp_path))
    with pytest.raises(pytest.fail.Exception) as failed:
        require("dlib")
    module = requirements.bridge_module(str(tmp_path))
    assert str(failed.value) == (
        f"the dlib bridge is not built ({module} is missing); fix: make dlib  (apt-get installs libdlib-dev, "
        "libopenblas-dev, pybind11-dev; then compiles the bridge)  (on a machine without dlib: "
        "DLBENCH_TEST_WITHOUT=dlib skips these tests)"
    )


def test_a_missing_browser_names_make_browser(monkeypatch):
    monkeypatch.delenv(WITHOUT, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception) as failed:
        require("chromium")
    assert str(failed.value).startswith(
        "no browser on PATH (looked for chromium, chromium-browser, google-chrome); fix: make browser"
    )


def test_a_missing_postgres_names_make_postgres(monkeypatch):
    from tests import postgres

    monkeypatch.delenv(WITHOUT, raising=False)
    monkeypatch.setattr(postgres, "bin_dir", lambda: None)
    with pytest.raises(pytest.fail.Exception) as failed:
        require("postgres")
    assert str(failed.value).startswith(
        "PostgreSQL's server (initdb, pg_ctl) is not installed; fix: scripts/install_postgres.sh"
    )
    assert "`make postgres`" in str(failed.value)


def test_only_the_environment_variable_skips_and_it_is_the_reason(monkeypatch):
    monkeypatch.setenv(WITHOUT, "mxnet, chromium")
    with pytest.raises(pytest.skip.Exception) as skipped:
        require("chromium")  # skipped whether it is there or not: the developer said so
    assert str(skipped.value) == "DLBENCH_TEST_WITHOUT=mxnet, chromium"
    require("torch")  # not listed, and installed: nothing happens


def test_an_unknown_name_is_a_mistake_in_the_test():
    with pytest.raises(ValueError, match="requires\\('cuda'\\): not one of torch, tensorflow, mxnet, dlib, chromium"):
        require("cuda")


def test_the_marker_is_checked_at_setup(monkeypatch, request):
    from tests.conftest import pytest_runtest_setup

    monkeypatch.setenv(WITHOUT, "dlib")
    request.node.add_marker(pytest.mark.requires("dlib"))
    with pytest.raises(pytest.skip.Exception, match="DLBENCH_TEST_WITHOUT=dlib"):
        pytest_runtest_setup(request.node)
