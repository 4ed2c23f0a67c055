"""Chinese in plot titles and labels is drawn with a CJK font behind the default one (no empty boxes),
wherever the machine has one installed."""

import warnings

import pytest

from medbench.plotting import CJK_FONTS, pyplot, save


def test_chinese_labels_have_glyphs(tmp_path):
    from matplotlib import font_manager

    plt = pyplot()
    if not set(plt.rcParams["font.family"]) & set(CJK_FONTS):
        installed = [p for p in font_manager.findSystemFonts() if "cjk" in p.lower()]
        pytest.skip(
            f"no CJK font on this machine (Debian: apt-get install fonts-noto-cjk); found {installed}"
        )
    fig, ax = plt.subplots()
    ax.bar(["基础医学", "临床医学"], [0.4, 0.6])
    ax.set_title("C-Eval 医学科目准确率")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save(fig, tmp_path / "zh")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert (tmp_path / "zh.png").stat().st_size > 0
