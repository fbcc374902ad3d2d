"""Errors the CLI reports as one clear line (exit code 2) instead of a traceback."""


class UserError(Exception):
    """A problem with the user's input: wrong checkpoint, bad audio, bad folder, ..."""
