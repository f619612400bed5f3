"""Exceptions with a message meant for the person who ran a command."""


class UserFacingError(Exception):
    """Raised by a command or service when the user did something we can explain.

    The command tree's error handler shows ``str(error)`` ephemerally and logs nothing alarming.
    """
