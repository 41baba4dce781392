"""The base of every error a user can fix (bad input, missing files, mismatches).

Tools catch this one type and print its message as one line with a non-zero exit; anything else
is a bug and keeps its traceback.
"""


class DanceRecognitionError(Exception):
    """A problem with the user's input or set-up; the message names it and the fix."""


class UserError(DanceRecognitionError):
    """A problem with a command's arguments; the CLI prints it as one line, exit code 1."""
