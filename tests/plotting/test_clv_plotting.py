"""CLV figures return Axes with labelled units."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_lib.clv.bgnbd import BetaGeoModel  # noqa: E402
from clm_lib.exceptions import MissingColumnsError  # noqa: E402
from clm_lib.plotting import clv as plots  # noqa: E402
from clm_lib.studies.clv.compute import p_alive_matrix  # noqa: E402

P = (0.25, 4.4, 0.8, 2.4)


class _Fixed(BetaGeoModel):
    def __init__(self):
        self.params_ = pd.Series(P, index=list(self.param_names))


def test_plots_have_units():
    tr = pd.DataFrame({"actual": [1.0, 2, 3], "predicted": [1.0, 2, 2],
                       "actual_cumulative": [1.0, 3, 6], "predicted_cumulative": [1.0, 3, 5]})
    tr.attrs["calibration_periods"] = 1.5
    ax = plots.plot_tracking(tr, cumulative=True, time_unit="week")
    assert "weeks" in ax.get_xlabel() and "purchase days" in ax.get_ylabel()
    tab = pd.DataFrame({"actual": [0.2, 0.8], "predicted": [0.25, 0.7]}, index=["0", "1+"])
    ax = plots.plot_conditional_vs_holdout(tab)
    assert "count" in ax.get_ylabel()
    ax = plots.plot_p_alive_matrix(p_alive_matrix(_Fixed(), T=39.0, max_frequency=5))
    assert "weeks" in ax.get_xlabel()
    ax = plots.plot_clv_distribution(pd.DataFrame({"clv": np.random.default_rng(0).gamma(0.5, 10, 500)}),
                                     horizon=52, top_decile=12.5)
    assert "$" in ax.get_xlabel() and "52 weeks" in ax.get_xlabel()
    assert ax.get_legend().get_texts()[0].get_text() == "top 10 % above $12"
    ax = plots.plot_tracking(tr, time_unit="week", model_label="Pareto/NBD")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["actual", "Pareto/NBD"]
    fit = pd.DataFrame({"customers": [6, 3, 1], "actual": [0.6, 0.3, 0.1],
                        "bgnbd": [0.55, 0.3, 0.15]}, index=pd.Index(["0", "1", "2+"]))
    ax = plots.plot_frequency_fit(fit, models={"bgnbd": "BG/NBD"})
    assert ax.get_ylabel() == "customers (%)" and "count" in ax.get_xlabel()
    assert [p.get_height() for p in ax.patches] == pytest.approx([60, 30, 10])
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"BG/NBD", "actual"}
    plt.close("all")
    with pytest.raises(MissingColumnsError):
        plots.plot_clv_distribution(pd.DataFrame({"x": [1]}))
    with pytest.raises(MissingColumnsError):
        plots.plot_frequency_fit(fit, models={"pareto_nbd": "Pareto/NBD"})


def _tracking(n=10, cal=6):
    tr = pd.DataFrame({"start": pd.date_range("2020-01-01", periods=n, freq="7D"),
                       "actual": np.arange(n, dtype=float), "predicted": np.arange(n) + 0.5,
                       "holdout": np.arange(n) >= cal}, index=pd.RangeIndex(n, name="period"))
    tr["actual_cumulative"] = tr["actual"].cumsum()
    tr["predicted_cumulative"] = tr["predicted"].cumsum()
    tr.attrs["calibration_periods"] = float(cal)
    return tr


def test_colour_blind_safe_maps_and_honest_axes():
    """The P(alive) heatmap uses the sequential map (no red-green); period and count axes
    tick on whole numbers; the log axis reads 1, 10, 100, not powers of ten."""
    ax = plots.plot_p_alive_matrix(p_alive_matrix(_Fixed(), T=39.0, max_frequency=5))
    assert ax.collections[0].get_cmap().name == "viridis"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["5", "4", "3", "2", "1", "0"]
    ax = plots.plot_tracking(_tracking(), time_unit="week")
    ax.figure.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())
    ax = plots.plot_clv_distribution(pd.DataFrame({"clv": np.random.default_rng(0).gamma(0.5, 10, 5000)}))
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and not any("^" in x or "$" in x for x in labels) and "1" in labels
    plt.close("all")


def test_tracking_chart_is_interactive_with_formatted_tooltips():
    tr = _tracking()
    spec = plots.chart_tracking(tr, time_unit="week", model_label="Pareto/NBD").to_dict()
    assert spec["$schema"].split("/")[-1].startswith("v5") and spec["width"] == "container"
    assert spec["height"] == 300
    lines, hover, rule = spec["layer"][:3]
    assert lines["encoding"]["x"]["field"] == "period" and lines["encoding"]["y"]["field"] == "purchases"
    assert lines["encoding"]["color"]["scale"]["domain"] == ["actual", "Pareto/NBD"]
    tips = {t["field"]: t for t in hover["encoding"]["tooltip"]}
    assert set(tips) == {"period", "start", "phase", "actual", "expected"}
    assert tips["actual"]["format"] == ",.0f" and "purchase days" in tips["expected"]["title"]
    datasets = spec["datasets"]
    rows = {len(v) for v in datasets.values()}
    assert rows == {2 * len(tr), len(tr), 1}          # long lines, one row per period, the rule
    per_period = next(v for v in datasets.values() if len(v) == len(tr))
    assert [r["phase"] for r in per_period].count("holdout") == int(tr["holdout"].sum())
    assert per_period[3] == {"period": 3, "start": "2020-01-22", "phase": "calibration",
                             "actual": 3.0, "expected": 3.5}
    assert rule["data"] and rule["mark"]["type"] == "rule"
    cum = plots.chart_tracking(tr, cumulative=True).to_dict()
    per_period = next(v for v in cum["datasets"].values() if len(v) == len(tr))
    assert per_period[-1]["actual"] == tr["actual_cumulative"].iloc[-1]
    with pytest.raises(MissingColumnsError):
        plots.chart_tracking(tr.drop(columns="holdout"))
