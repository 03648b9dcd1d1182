"""Plot functions of the survival study return Axes with labels and units."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_lib.studies.survival_churn import compute as sv  # noqa: E402
from clm_lib.exceptions import MissingColumnsError  # noqa: E402
from clm_lib.plotting import survival as ps  # noqa: E402


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = 600
    seg = rng.choice(["a", "b"], n)
    x = rng.normal(size=n)
    t = rng.exponential(1 / (0.1 * np.exp(0.7 * (seg == "b") + 0.3 * x)))
    c = rng.uniform(0, 30, n)
    return pd.DataFrame({"duration": np.minimum(t, c) + 0.01, "event": t <= c, "seg": seg,
                         "x": x, "m": 10.0})


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_plot_km_curves(frame):
    ax = ps.plot_km_curves(sv.kaplan_meier(frame, segment="seg"), time_unit="month")
    assert "month" in ax.get_xlabel()
    assert "%" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "a" in labels and "b" in labels and "All" not in labels
    ax2 = ps.plot_km_curves(sv.kaplan_meier(frame), at_risk=False)
    assert [t.get_text() for t in ax2.get_legend().get_texts()][0] == "All"


def test_plot_hazard_ratios_and_calibration(frame):
    X, _ = sv.encode_covariates(frame, ["seg", "x"], baselines={"seg": "a"})
    cph = sv.fit_cox(X)
    ax = ps.plot_hazard_ratios(sv.hazard_ratio_table(cph))
    assert ax.get_xscale() == "log"
    assert {t.get_text() for t in ax.get_yticklabels()} == {"x", "seg: b"}
    assert "Hazard ratio" in ax.get_xlabel()
    cal = sv.calibration_table(cph, X, [3, 6], n_bins=3)
    ax = ps.plot_calibration(cal, time_unit="month")
    assert "Predicted" in ax.get_xlabel() and "Observed" in ax.get_ylabel()
    assert len(ax.get_lines()) == 3  # diagonal + 2 horizons
    with pytest.raises(MissingColumnsError):
        ps.plot_hazard_ratios(pd.DataFrame({"hr": [1.0]}))


def test_plot_risk_and_value(frame):
    X, _ = sv.encode_covariates(frame, ["seg", "x"])
    aft = sv.fit_aft_models(X)["Weibull AFT"]
    active = X[~X["event"]].drop(columns="event").assign(m=10.0)
    risk = sv.customer_risk_table(aft, active, margin="m", max_horizon=24)
    ax = ps.plot_risk_tiers(risk, horizon_label="P(churn within 6 months)")
    assert "count" in ax.get_ylabel()
    assert sum(p.get_height() for p in ax.patches) == len(risk)
    val = sv.segment_value(risk, frame["seg"])
    ax = ps.plot_value_by_segment(val, currency="USD", time_unit="month")
    assert "USD" in ax.get_xlabel() and "month" in ax.get_xlabel()
