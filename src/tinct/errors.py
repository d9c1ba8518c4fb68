"""The one exception type a user sees (its message is a complete, one-line explanation) and the one
warning type."""


class TinctError(Exception):
    """A user-facing error (bad input, missing file, unknown method...).

    The CLI prints ``str(error)`` on one line and exits non-zero; no traceback.
    """


class TinctWarning(UserWarning):
    """A one-line note about the user's input that does not stop the work (a caption's words outside a
    model's vocabulary). The CLI prints it as ``warning: <message>`` on one line."""
