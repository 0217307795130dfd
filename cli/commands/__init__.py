"""One module per command: NAME, add_parser(sub) -> the command's parser, run(args) -> exit code."""

from cli.commands import bisect, compare, db, export, import_, list_, machine, publish, report, run

# in the order `dlbench --help` lists them
COMMANDS = (list_, run, compare, export, import_, machine, bisect, db, publish, report)
