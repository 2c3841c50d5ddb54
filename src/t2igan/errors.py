"""The one exception type that reaches the user as a single line on stderr."""


class UserError(Exception):
    """Bad input from the user (a path, a prompt, a flag): the CLI prints it without a traceback."""
