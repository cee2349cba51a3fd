"""The HTML and SVG primitives reports, exporters and the dashboard share."""

import pandas as pd

from lumos._html import bars, calibration_plot, esc, intervals, table
from lumos.evaluate import reliability


def test_plots_draw_nothing_for_a_missing_figure():
    nan = float("nan")
    drawn = intervals(["a", "b"], [0.1, nan], [0.0, nan], [0.2, nan], title="t")
    drawn += bars(["a", "b"], [0.3, nan], title="t")
    drawn += calibration_plot(reliability([0, 1, 1, 0], [0.1, 0.4, 0.6, 0.9], bins=2))
    assert "nan" not in drawn.lower() and drawn.count("<circle") == 3


def test_labels_and_cells_are_escaped():
    evil = "<script>alert(1)</script>"
    drawn = intervals([evil], [0.1], [0.0], [0.2], title=evil) + bars([evil], [1.0], title=evil)
    drawn += table(pd.DataFrame({"x": [evil]}), evil)
    assert "<script>" not in drawn and esc(evil) in drawn
