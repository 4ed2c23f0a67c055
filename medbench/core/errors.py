"""The one error type the CLI turns into a single clear line (no traceback)."""


class MedbenchError(Exception):
    """A user-facing problem: bad input, missing data, unknown name. The message is the whole story."""
