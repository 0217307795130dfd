"""`dlbench publish`: the database's history as a static site (trends, change points)."""

from __future__ import annotations

import os

from cli.options import add_db_option, machine_name

NAME = "publish"


def add_parser(sub):
    pub = sub.add_parser(NAME, help="the database's history as a static site: trends, change points, regressions")
    add_db_option(pub)
    pub.add_argument("--out", required=True, help="folder to write the site into (replaced whole)")
    pub.add_argument(
        "--machine",
        type=machine_name,
        action="append",
        default=None,
        help="only this machine's history (repeatable; default: every machine in the database)",
    )
    return pub


def run(args):
    from harness.db import engine
    from reports.dashboard.site import publish

    db = engine.open_db(args.db, create=False)
    try:
        site = publish(db, args.out, args.machine)
    finally:
        db.close()
    print(
        f"published {site.machines} machine(s), {site.cells} cells, {site.changes} change point(s): "
        f"{site.files} files, {site.bytes / 1e6:.1f} MB in {site.seconds:.1f} s"
    )
    print(os.path.join(site.out, "index.html"))
    return 0
