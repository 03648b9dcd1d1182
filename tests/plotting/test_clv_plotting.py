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
