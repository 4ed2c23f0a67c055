"""matplotlib for files, with names drawn as plain text.

Every plot medbench draws labels bars with model, task and dimension names that come from users;
matplotlib would read ``$...$`` in such a name as mathtext (and fail on ``$\\foo$``), so mathtext is
off for every figure medbench makes.
"""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend with mathtext parsing off."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt
