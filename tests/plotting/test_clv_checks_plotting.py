"""The model-check figure draws the table it is given, with labelled axes."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_lib.plotting.clv_checks import plot_holdout_bands  # noqa: E402


def test_plot_holdout_bands_draws_the_table():
    t = pd.DataFrame({"actual": [0.2, 0.9, 1.8], "expected": [0.25, 0.8, 1.7],
                      "lower": [0.2, 0.6, 1.2], "upper": [0.3, 1.0, 2.2]},
                     index=pd.Index(["0", "1", "2+"], name="frequency"))
    ax = plot_holdout_bands(t, model_label="BG/NBD", holdout_label="holdout (39 weeks)")
    assert "calibration" in ax.get_xlabel() and "39 weeks" in ax.get_ylabel()
    assert [tk.get_text() for tk in ax.get_xticklabels()] == ["0", "1", "2+"]
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), t["actual"])
    with pytest.raises(Exception, match="lower"):
        plot_holdout_bands(t.drop(columns="lower"))
