"""Ranks across machines (--across-machines): the launcher's variables read, the ranks'
results gathered at rank 0 and handed back to every rank; tested with 2 ranks on
loopback, each its own `dlbench run` as a launcher would start them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from conftest import FAST, dlbench, read_results

from harness.launch import Launch, LaunchError, from_environment
from harness.ranks import free_ports


def test_each_launchers_variables_say_rank_size_and_master():
    torchrun = from_environment({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "node0", "MASTER_PORT": "29500"})
    assert (torchrun.rank, torchrun.world, torchrun.master, torchrun.port, torchrun.how) == (
        1,
        2,
        "node0",
        29500,
        "torchrun",
    )
    slurm = from_environment({"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "DLBENCH_MASTER": "node7:29400"})
    assert (slurm.rank, slurm.world, slurm.master, slurm.port, slurm.how) == (0, 4, "node7", 29400, "Slurm")
    tf = from_environment(
        {"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:2222", "b:2222"]}, "task": {"type": "worker", "index": 1}})}
    )
    assert (tf.rank, tf.world, tf.master, tf.port) == (1, 2, "a", 2222)
    with pytest.raises(LaunchError, match="set DLBENCH_MASTER=host:port"):
        from_environment({"SLURM_PROCID": "0", "SLURM_NTASKS": "2"})
    with pytest.raises(LaunchError, match="no launcher's variables here"):
        from_environment({})
    with pytest.raises(LaunchError, match="not below the job's size"):
        from_environment({"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"})


def test_every_rank_gets_every_ranks_payload_and_fresh_ports_per_cell():
    (port,) = free_ports(1)
    launches = [Launch(r, 3, "127.0.0.1", port, "test") for r in range(3)]
    got = {}

    def rank(launch):
        got[launch.rank] = (launch.meet(timeout=20), launch.addresses(), launch.exchange({"r": launch.rank}, 20))

    threads = [threading.Thread(target=rank, args=(launch,)) for launch in launches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    launches[0].close()
    assert set(got) == {0, 1, 2}
    for hosts, addresses, payloads in got.values():
        assert hosts == ["127.0.0.1"] * 3
        assert addresses == [f"127.0.0.1:{port + 2 + r}" for r in range(3)]  # the first cell's ports
        assert payloads == [{"r": 0}, {"r": 1}, {"r": 2}]


def test_across_machines_without_a_launcher_is_one_line(tmp_path, capsys, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "TF_CONFIG", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert dlbench("run --scenario allreduce --impl torch --across-machines --out", tmp_path / "x") == 2
    assert "no launcher's variables here" in capsys.readouterr().err


@pytest.mark.slow  # two dlbench runs, one per rank, as torchrun would start them (about 20 s)
@pytest.mark.requires("torch")
def test_two_ranks_started_apart_meet_and_write_the_same_records(tmp_path):
    (port,) = free_ports(1)
    out = tmp_path / "run"
    args = [sys.executable, "-m", "cli.main", "run", "--scenario", "allreduce,classifier", "--impl", "torch"]
    args += ["--scaling", "strong"]
    args += ["--mode", "eager", "--size", "tiny", "--processes", "1", "--no-machine-probe", "--threads", "1"]
    args += ["--quiet", "--across-machines", "--out", str(out), *FAST]
    procs = []
    for r in range(2):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    zero, one = read_results(out), read_results(out / "rank-1")
    assert {(r["scenario"], r["ranks"], r["scaling"]) for r in zero} == {
        ("allreduce", 2, ""),
        ("classifier", 2, "strong"),
    }
    for a, b in zip(zero, one):
        assert a["status"] == b["status"] == "ok", (a["reason"], b["reason"])
        assert a["rank_samples"] == b["rank_samples"] and len(a["rank_samples"]) == 2
        assert "2 ranks across machines (torchrun): 127.0.0.1, 127.0.0.1" == a["ranks_across"]
