"""The CJK font of the charts: Noto Sans CJK SC (SIL OFL), shipped by the `mplfonts` package (pyproject).

The file is named explicitly, so the chart never depends on what fonts the machine happens to have
and Chinese labels never fall back to a font without Han glyphs (tofu boxes).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

FONT_PACKAGE = "mplfonts"
FONT_FILE = Path("fonts") / "NotoSansCJKsc-Regular.otf"


class FontMissing(RuntimeError):
    """The CJK font file is not installed (scripts/test.sh and scripts/run.sh install it with the package)."""


def cjk_font_path() -> Path:
    """The font file's path, found without importing its package."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / FONT_FILE
        if path.is_file():
            return path
    raise FontMissing(f"{FONT_FILE.name} not found: install reportbot with its dependencies (pip install -e .)")
