"""The one kind of error the user sees as one line: `dlbench COMMAND: MESSAGE`, exit 2.

Every module's own error (a bad plan, a busy directory, a revision that cannot be
checked out, a results file that does not parse) derives from DlbenchError, and the
CLI maps them all in one place (cli.main). Anything else is a bug: a traceback.
"""


class DlbenchError(Exception):
    """A problem with what the user asked for or pointed at: its text is the whole message."""
