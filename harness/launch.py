"""Ranks across machines: this dlbench is one rank of a job another launcher started.

`dlbench run --across-machines` is started once per rank, on each machine, by the
framework's or the cluster's own launcher (torchrun, srun, mpirun, or by hand with
TF_CONFIG), which says in the environment which rank this is, how many there are and
where rank 0 is. Every rank plans the same cells, in the same order, at ranks = the
job's size, and runs them one after another (no lockstep turns: the machines cannot
take turns). For each process of a cell, this host starts only its own rank's worker;
the ranks' results meet at rank 0's gather port (the launcher's master port + 1), and every
rank gets all of them back, so every host writes the same records (rank 0 into --out,
rank R into --out/rank-R with its own machine.json).

Ports: above the master port P, which the launcher may hold itself (torchrun's store):
the gather listens on P + 1, and a cell's k-th process uses P + 2 + k x world + r for
rank r (its server in TensorFlow's cluster; rank 0's is torch's and MXNet's rendezvous).
A rank that fails is known to the others when its result arrives, or when their own
worker times out in a collective (--timeout).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import List, Optional

from harness.errors import DlbenchError

CONNECT_S = 600.0  # how long a rank waits for rank 0's gather port to open


class LaunchError(DlbenchError, ValueError):
    """The launcher's environment does not say what a rank needs: one line."""


@dataclass
class Launch:
    rank: int
    world: int
    master: str  # rank 0's host
    port: int  # the launcher's master port: dlbench's gather and cells use the ports above it
    how: str  # which launcher's variables said so
    hosts: List[str] = field(default_factory=list)  # each rank's host, once met
    _slots: int = 0
    _server: Optional[socket.socket] = None

    def meet(self, timeout=CONNECT_S):
        """Every rank's host as rank 0 sees it (the address each connected from), learned once."""
        if not self.hosts:
            self.hosts = self.exchange(None, timeout)
            self.hosts = [self.master if r == 0 else h for r, h in enumerate(self.hosts)]
        return self.hosts

    def addresses(self):
        """host:port of every rank for the next cell process (a fresh port each)."""
        hosts = self.meet()
        base = self.port + 2 + self._slots * self.world
        self._slots += 1
        return [f"{h}:{base + r}" for r, h in enumerate(hosts)]

    def exchange(self, payload, timeout=CONNECT_S):
        """Every rank's payload, in rank order, on every rank (rank 0 gathers, then sends
        the list back). With payload None: each rank's host as rank 0 saw the connection."""
        if self.world == 1:
            return [payload]
        if self.rank == 0:
            return self._gather(payload, timeout)
        sock = _connect(self.master, self.port + 1, timeout)
        with sock, sock.makefile("rw") as f:
            f.write(json.dumps({"rank": self.rank, "payload": payload}) + "\n")
            f.flush()
            line = f.readline()
        if not line:
            raise LaunchError(f"rank 0 at {self.master}:{self.port + 1} closed the gather without an answer")
        return json.loads(line)

    def _gather(self, payload, timeout):
        if self._server is None:
            self._server = socket.create_server(("", self.port + 1))  # every interface: the others connect here
        self._server.settimeout(timeout)
        got, conns = {0: payload}, []
        try:
            while len(got) < self.world:
                conn, (host, _) = self._server.accept()
                f = conn.makefile("rw")
                msg = json.loads(f.readline())
                got[msg["rank"]] = host if msg["payload"] is None and payload is None else msg["payload"]
                conns.append((conn, f))
        except socket.timeout:
            raise LaunchError(f"ranks {sorted(set(range(self.world)) - set(got))} never reached the gather") from None
        answer = json.dumps([got[r] for r in range(self.world)]) + "\n"
        for conn, f in conns:
            with conn, f:
                f.write(answer)
                f.flush()
        return [got[r] for r in range(self.world)]

    def close(self):
        if self._server is not None:
            self._server.close()


def _connect(host, port, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except OSError:
            if time.monotonic() > deadline:
                raise LaunchError(f"rank 0's gather at {host}:{port} did not open within {timeout:.0f} s") from None
            time.sleep(0.2)


def _int(env, name):
    try:
        return int(env[name])
    except (KeyError, ValueError):
        raise LaunchError(f"{name} is not a whole number: {env.get(name)!r}") from None


def _master(env, what):
    """host and port from DLBENCH_MASTER=host:port, else MASTER_ADDR and MASTER_PORT."""
    if env.get("DLBENCH_MASTER"):
        host, _, port = env["DLBENCH_MASTER"].rpartition(":")
        if not host or not port.isdigit():
            raise LaunchError(f"DLBENCH_MASTER must be host:port, not {env['DLBENCH_MASTER']!r}")
        return host, int(port)
    if env.get("MASTER_ADDR") and env.get("MASTER_PORT"):
        return env["MASTER_ADDR"], _int(env, "MASTER_PORT")
    raise LaunchError(f"{what}: set DLBENCH_MASTER=host:port (rank 0's host and a free port) on every rank")


def from_environment(env=None):
    """This rank's Launch from the launcher's variables: TF_CONFIG; torchrun's RANK and
    WORLD_SIZE; Slurm's SLURM_PROCID and SLURM_NTASKS; Open MPI's OMPI_COMM_WORLD_RANK and
    _SIZE (the last two with DLBENCH_MASTER, or MASTER_ADDR and MASTER_PORT)."""
    env = os.environ if env is None else env
    if env.get("TF_CONFIG"):
        try:
            config = json.loads(env["TF_CONFIG"])
            workers, index = config["cluster"]["worker"], int(config["task"]["index"])
            host, _, port = workers[0].rpartition(":")
            return Launch(index, len(workers), host, int(port), "TF_CONFIG")
        except (ValueError, KeyError, TypeError, IndexError):
            shape = '{"cluster": {"worker": ["host:port", ...]}, "task": {"index": i}}'
            raise LaunchError(f"TF_CONFIG must be {shape}") from None
    for rank, size, how in (
        ("RANK", "WORLD_SIZE", "torchrun"),
        ("SLURM_PROCID", "SLURM_NTASKS", "Slurm"),
        ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "Open MPI"),
    ):
        if rank in env and size in env:
            host, port = _master(env, how)
            launch = Launch(_int(env, rank), _int(env, size), host, port, how)
            if not 0 <= launch.rank < launch.world:
                raise LaunchError(f"{how}: rank {launch.rank} is not below the job's size {launch.world}")
            return launch
    raise LaunchError(
        "--across-machines: no launcher's variables here (TF_CONFIG, torchrun's RANK/WORLD_SIZE, "
        "Slurm's SLURM_PROCID/SLURM_NTASKS or Open MPI's OMPI_COMM_WORLD_RANK/SIZE)"
    )


def run_launched(runner, cell, process):
    """One process of CELL across machines: this host's rank's worker, then every rank's
    result from the gather, combined as harness.ranks does for ranks on one machine."""
    from harness.ranks import _named, combine, wait_ranks

    launch = runner.launch
    addresses = launch.addresses()
    handle = runner.start_process(cell, process, rank=launch.rank, address=addresses[0], addresses=addresses)
    (mine,) = wait_ranks([handle], runner.options.timeout)
    # wait_ranks named it rank 0 (of one handle): this host's rank is launch.rank
    reason = mine.get("reason") or ""
    mine = _named(dict(mine, reason=reason.removeprefix("rank 0: ")), launch.rank, True)
    result = combine(launch.exchange(mine))
    result["ranks_across"] = f"{launch.world} ranks across machines ({launch.how}): {', '.join(launch.hosts)}"
    return result
