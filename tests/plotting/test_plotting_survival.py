"""Plot functions of the survival study return Axes with labels and units."""
from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_lib.studies.survival_churn import km, models, validation  # noqa: E402
from clm_lib.studies.survival_churn import durations as du  # noqa: E402
from clm_lib.studies.survival_churn import risk as rk  # noqa: E402
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
    ax = ps.plot_km_curves(km.kaplan_meier(frame, segment="seg"), time_unit="month")
    assert "month" in ax.get_xlabel()
    ax.figure.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())  # whole months
    assert "%" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "a" in labels and "b" in labels and "All" not in labels
    ax2 = ps.plot_km_curves(km.kaplan_meier(frame), at_risk=False)
    assert [t.get_text() for t in ax2.get_legend().get_texts()][0] == "All"


def test_plot_hazard_ratios_and_calibration(frame):
    X, _ = du.encode_covariates(frame, ["seg", "x"], baselines={"seg": "a"})
    cph = models.fit_cox(X)
    ax = ps.plot_hazard_ratios(models.hazard_ratio_table(cph))
    assert ax.get_xscale() == "log"
    # plain numbers on the log axis (0.5, 1, 2), never 10^-1; colour-blind-safe points
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and not any("10^" in t or "$" in t for t in ticks)
    from clm_lib.plotting.style import PALETTE

    colours = {tuple(np.round(c, 3)) for c in ax.collections[-1].get_facecolors()}
    allowed = {tuple(np.round(matplotlib.colors.to_rgba(c), 3)) for c in PALETTE}
    assert colours <= allowed
    assert {t.get_text() for t in ax.get_yticklabels()} == {"x", "seg: b"}
    assert "Hazard ratio" in ax.get_xlabel()
    cal = validation.calibration_table(cph, X, [3, 6], n_bins=3)
    ax = ps.plot_calibration(cal, time_unit="month")
    assert "Predicted" in ax.get_xlabel() and "Observed" in ax.get_ylabel()
    assert len(ax.get_lines()) == 3  # diagonal + 2 horizons
    with pytest.raises(MissingColumnsError):
        ps.plot_hazard_ratios(pd.DataFrame({"hr": [1.0]}))


def test_plot_risk_and_value(frame):
    X, _ = du.encode_covariates(frame, ["seg", "x"])
    aft = models.fit_aft_models(X)["Weibull AFT"]
    active = X[~X["event"]].drop(columns="event").assign(m=10.0)
    risk = rk.customer_risk_table(aft, active, margin="m", max_horizon=24)
    ax = ps.plot_risk_tiers(risk, horizon_label="P(churn within 6 months)")
    assert "count" in ax.get_ylabel()
    from clm_lib.plotting.style import PALETTE

    bar_colours = {matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches}
    assert bar_colours <= {c.lower() for c in PALETTE}  # no red-green pair
    assert sum(p.get_height() for p in ax.patches) == len(risk)
    val = rk.segment_value(risk, frame["seg"])
    ax = ps.plot_value_by_segment(val, currency="USD", time_unit="month")
    assert "USD" in ax.get_xlabel() and "month" in ax.get_xlabel()
    ax = ps.plot_value_by_segment(val, time_unit="month", basis="revenue", horizon=24)
    assert ax.get_xlabel() == ("Discounted revenue over the next 24 months per customer "
                               "(currency of the data; revenue per month x survival)")


def test_report_figures_of_a_study():
    """The report's figures lay out what a study result holds (no model fitted here)."""
    from matplotlib.figure import Figure

    from clm_lib.studies.survival_churn.compute import survival_study

    rng = np.random.default_rng(1)
    n = 800
    plan = rng.choice(["a", "b"], n)
    t = rng.exponential(1 / (0.05 * np.where(plan == "b", 2.0, 1.0)))
    c = rng.uniform(0, 40, n)
    subs = pd.DataFrame({"customer_id": [f"{i}" for i in range(n)],
                         "tenure": np.ceil(np.minimum(t, c)), "churned": t <= c, "plan": plan,
                         "price": rng.uniform(10, 30, n)})
    result = survival_study(subs, segment="plan", covariates=["plan", "price"], margin="price")
    figs = [ps.km_figure(result), ps.hazard_ratio_figure(result), ps.calibration_figure(result),
            ps.risk_tier_figure(result), *ps.value_figures(result)]
    assert all(isinstance(f, Figure) for f in figs) and len(figs) == 5
    assert not plt.get_fignums()  # closed: display() shows each once
    assert figs[2].axes[0].get_title() == f"Calibration of the {result.selected} model on the holdout"
    assert "P(churn within 6 months)" in figs[3].axes[0].get_xlabel()
    assert len(figs[1].axes[0].get_yticklabels()) == len(result.hazard_ratios)
    assert ps.value_figures(dataclasses.replace(result, value=None)) == []
    assert figs[4].axes[0].get_title() == "Expected discounted margin per active customer"
    assert f"over the next {result.remaining_horizon:g} months" in figs[4].axes[0].get_xlabel()


def test_chart_km_spec():
    """The interactive Kaplan-Meier chart: step lines and bands per segment, tooltips with
    formatted values, aggregated rows only."""
    from clm_lib.studies.survival_churn.compute import survival_study

    rng = np.random.default_rng(2)
    n = 500
    plan = rng.choice(["a", "b"], n)
    t = rng.exponential(1 / (0.05 * np.where(plan == "b", 2.0, 1.0)))
    c = rng.uniform(0, 40, n)
    subs = pd.DataFrame({"customer_id": [f"{i}" for i in range(n)],
                         "tenure": np.ceil(np.minimum(t, c)), "churned": t <= c, "plan": plan})
    result = survival_study(subs, segment="plan", covariates=["plan"])
    data = ps.km_chart_data(result)
    assert set(data["curve"]) == {"a", "b"}  # the segments, not "All" besides them
    for name in ("a", "b"):
        kmf, rows = result.km_fits[name], data[data["curve"] == name]
        assert len(rows) == len(kmf.timeline)
        np.testing.assert_allclose(rows["survival"], kmf.survival_function_.iloc[:, 0])
        assert rows["at_risk"].iloc[0] == (plan == name).sum()
        assert (rows["lower"] <= rows["survival"] + 1e-12).all()
        assert (rows["survival"] <= rows["upper"] + 1e-12).all()
    spec = ps.chart_km(result).to_dict()
    assert spec["width"] == "container" and spec["height"] == 300
    marks = [layer["mark"] for layer in spec["layer"]]
    assert [m["type"] for m in marks] == ["area", "line", "point"]
    assert marks[1]["interpolate"] == marks[0]["interpolate"] == "step-after"
    tips = {tip["title"]: tip["field"] for tip in spec["layer"][2]["encoding"]["tooltip"]}
    assert tips == {"plan": "curve", "Months since start": "time_text",
                    "Still active": "survival_text", "95 % interval": "band_text",
                    "Customers at risk": "at_risk_text"}
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == len(data) < 5000
    first = rows[1]
    assert first["survival_text"].endswith(" %") and first["at_risk_text"].replace(",", "").isdigit()
    enc = spec["layer"][1]["encoding"]
    assert enc["y"]["axis"]["format"] == "%" and enc["x"]["axis"]["tickMinStep"] == 1


def test_chart_km_reads_a_long_curve_on_a_grid():
    """Churn by inactivity in days has thousands of step times: the chart keeps its rows
    bounded, the values still those of the curve."""
    from clm_lib.studies.survival_churn.compute import survival_study

    rng = np.random.default_rng(3)
    n = 3000
    subs = pd.DataFrame({"customer_id": [f"{i}" for i in range(n)],
                         "tenure": rng.uniform(0, 900, n).round(3),
                         "churned": rng.random(n) < 0.6})
    result = survival_study(subs, covariates=[], time_unit="day")
    data = ps.km_chart_data(result)
    assert len(result.km_fits["All"].timeline) > ps.MAX_CHART_POINTS
    assert set(data["curve"]) == {"All"} and len(data) <= ps.MAX_CHART_POINTS + 1
    kmf = result.km_fits["All"]
    np.testing.assert_allclose(data["survival"],
                               kmf.survival_function_at_times(data["time"]).to_numpy())
