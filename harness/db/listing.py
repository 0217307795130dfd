"""The runs a database holds, one line each: run id, machine, commit, start, cells ok/total."""

from __future__ import annotations

import sqlalchemy as sa

from harness.db.schema import cells, runs

HEADER = ("run id", "machine", "commit", "started (UTC)", "cells ok/total")


def list_runs(db):
    """[dict] of every run, oldest first: run_id, machine, git_commit, started, ok, total."""
    ok = sa.func.sum(sa.case((cells.c.status == "ok", 1), else_=0))
    query = (
        sa.select(
            runs.c.run_id,
            runs.c.machine,
            runs.c.git_commit,
            runs.c.started,
            ok.label("ok"),
            sa.func.count(cells.c.id).label("total"),
        )
        .select_from(runs.outerjoin(cells, cells.c.run_id == runs.c.run_id))
        .group_by(runs.c.run_id)
        .order_by(runs.c.started, runs.c.run_id)
    )
    with db.read() as conn:
        return [dict(row._mapping, ok=row.ok or 0) for row in conn.execute(query)]


def format_runs(rows):
    """A plain text table (commits shortened to 12 characters, "-dirty" kept)."""
    lines = [HEADER] + [
        (
            r["run_id"],
            r["machine"],
            _short(r["git_commit"]),
            r["started"].strftime("%Y-%m-%d %H:%M:%S") if r["started"] else "-",
            f"{r['ok']}/{r['total']}",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines)


def _short(commit):
    if not commit:
        return "-"
    sha, dirty = (commit[:-6], "-dirty") if commit.endswith("-dirty") else (commit, "")
    return sha[:12] + dirty
