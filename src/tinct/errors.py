"""The one exception type a user sees: its message is a complete, one-line explanation."""


class TinctError(Exception):
    """A user-facing error (bad input, missing file, unknown method...).

    The CLI prints ``str(error)`` on one line and exits non-zero; no traceback.
    """
