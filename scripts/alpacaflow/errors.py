"""The one exception type that means "bad input", shown to users as one line."""


class AlpacaflowError(Exception):
    """A problem with the user's input or configuration.

    The command-line entry point prints it as a single ``error: ...`` line and
    exits with status 1, without a traceback.
    """
