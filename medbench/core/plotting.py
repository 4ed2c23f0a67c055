"""What every figure medbench draws shares (a CJK font, mathtext off, atomic saving, an empty panel
that says why); the figures themselves live with what they show (``judge/plots.py``,
``bias/plots.py``, ``report/plots.py``).

Every plot medbench draws labels bars with model, task and dimension names that come from users;
matplotlib would read ``$...$`` in such a name as mathtext (and fail on ``$\\foo$``), so mathtext is
off for every figure medbench makes.
"""

from __future__ import annotations

from pathlib import Path

from medbench.core.writing import failed_write

#: CJK-capable families in order of preference; the first installed one draws what DejaVu Sans lacks
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
_CJK_FILES = ("cjk", "wqy", "sourcehan", "simhei", "msyh", "pingfang")


def _cjk_fallback(matplotlib) -> None:
    """Chinese in titles and labels: DejaVu Sans first, then an installed CJK font glyph by glyph
    (matplotlib's font fallback). Fonts installed after matplotlib built its font cache are added."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    if not known.intersection(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if any(k in Path(path).name.lower() for k in _CJK_FILES):
                font_manager.fontManager.addfont(path)
        known = {f.name for f in font_manager.fontManager.ttflist}
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *(f for f in CJK_FONTS if f in known)]


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend with mathtext parsing off and a CJK font
    behind the default one."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    _cjk_fallback(matplotlib)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path, dpi: int = 120) -> None:
    """``<path>.png`` and ``<path>.svg`` (the suffix appended: a model name such as ``Qwen2.5`` keeps
    its dot), then the figure closed."""
    plt = pyplot()
    fig.tight_layout()
    try:
        for suffix in (".png", ".svg"):
            target = path.parent / f"{path.name}{suffix}"
            fig.savefig(target, dpi=dpi)
    except OSError as exc:  # no room, or a name too long for the file system: one line naming it
        raise failed_write(target, exc) from None
    finally:
        plt.close(fig)


def no_data(ax, why: str) -> None:
    """An empty panel that says why it is empty, rather than axes that look like a broken chart."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"no data: {why}", ha="center", va="center", transform=ax.transAxes, color="#555")
