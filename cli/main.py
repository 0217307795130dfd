"""`dlbench`: the parser made of every command's own (cli/commands/NAME.py: its arguments
and its run function, as asv's commands/), and the one place errors become exit codes.

Every user error is a harness.errors.DlbenchError, mapped here to one line on stderr and
exit status 2; an interrupted run (Ctrl-C or SIGTERM) exits 130 and keeps every cell it
finished.
"""

from __future__ import annotations

import signal
import sys
import threading

from cli.commands import COMMANDS
from cli.options import Parser, UsageError
from harness import __version__
from harness.errors import DlbenchError

EXIT_USAGE = 2


def build_parser():
    parser = Parser(prog="dlbench", description="Benchmark deep-learning frameworks on one shared scenario set.")
    parser.add_argument("--version", action="version", version=f"dlbench {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub).set_defaults(run=command.run)
    return parser


def _terminated(signum, frame):
    raise KeyboardInterrupt  # the interrupted run's path: its workers killed, its cells kept


def main(argv=None):
    args = None
    if threading.current_thread() is threading.main_thread():
        # a `timeout`, a CI job's cancel or `kill` ends a run as Ctrl-C does: without this, the
        # workers waiting their lockstep turn (stopped) would outlive it for ever
        signal.signal(signal.SIGTERM, _terminated)
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except DlbenchError as exc:  # every module's one-line error, the command named once here
        command = " ".join(filter(None, (getattr(args, "command", None), getattr(args, "db_command", None))))
        print(f"dlbench {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
