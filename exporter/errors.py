"""Errors the CLI reports as one clear line (exit code 2) instead of a traceback."""


class UserError(Exception):
    """A problem with the user's input: wrong checkpoint, bad audio, bad folder, ..."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived (exporter/cli.py turns them into this exception).

    A KeyboardInterrupt on purpose: everything that cleans up after Ctrl-C (temporary files and
    folders, child processes) does the same for these signals, with no second code path.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
