"""Lifecycle figures return Axes with titles and labelled axes (units)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from clm_lib.plotting import lifecycle as plots  # noqa: E402
from clm_lib.plotting.style import PALETTE, SEQUENTIAL  # noqa: E402
from clm_lib.studies.lifecycle_segments import flows, rfm, stages  # noqa: E402
from clm_lib.studies.lifecycle_segments.leads import leads_conversion  # noqa: E402
from clm_lib.studies.lifecycle_segments.repeat import time_to_second_purchase  # noqa: E402


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(2)
    n = 2000
    tx = pd.DataFrame({"customer_id": rng.integers(0, 300, n).astype(str),
                       "timestamp": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D"),
                       "amount": rng.gamma(2, 20, n)})
    th = stages.derive_thresholds(tx, as_of="2020-12-31")
    end = stages.customer_stages(tx, date="2020-12-31", thresholds=th)
    start = stages.customer_stages(tx, date="2020-06-30", thresholds=th)
    r = rfm.rfm_table(tx, as_of="2020-12-31")
    _, kmf = time_to_second_purchase(tx, as_of="2020-12-31")
    return tx, end, flows.transition_matrix(start, end), r, kmf


def _check(ax):
    assert ax.get_title() and ax.get_xlabel() is not None and ax.get_ylabel()
    plt.close(ax.figure)


def test_stage_and_segment_bars(parts):
    _, end, _, r, _ = parts
    ax = plots.plot_stage_counts(stages.stage_table(end))
    assert ax.get_ylabel() == "share (%)"
    _check(ax)
    _check(plots.plot_rfm_segments(rfm.segment_table(r, rfm.assign_segments(r))))


def test_transitions_and_flows(parts):
    _, _, m, _, _ = parts
    ax = plots.plot_transition_matrix(m)
    assert "2020-12-31" in ax.get_xlabel() and "2020-06-30" in ax.get_ylabel()
    _check(ax)
    ax = plots.plot_flows(m, start_label="2020-06-30", end_label="2020-12-31")
    assert "not drawn" in ax.get_title()
    _check(ax)


def test_ladder_km_what_if_conversion(parts):
    _, end, _, _, kmf = parts
    ax = plots.plot_ladder(stages.repeat_ladder(end))
    assert "P(k+1" in ax.get_ylabel()
    _check(ax)
    ax = plots.plot_time_to_second_purchase(kmf, time_unit="week")
    assert "weeks" in ax.get_xlabel()
    _check(ax)
    w = pd.DataFrame({"value_change": [0.0, 10.0, 50.0], "value_change_pct": [0, 0.01, 0.05]},
                     index=[0.0, 1.0, 5.0])
    ax = plots.plot_what_if(w, horizon=52)
    assert len(ax.patches) == 2 and "52 weeks" in ax.get_ylabel()
    _check(ax)
    # both readings, the shown one first, with their intervals as error bars
    both = pd.DataFrame({"value_change_proportional": [0.0, 3.0, 15.0],
                         "value_change_pct_proportional": [0, 0.003, 0.015],
                         "value_change_absolute": [0.0, 10.0, 50.0],
                         "value_change_pct_absolute": [0, 0.01, 0.05],
                         "value_change_absolute_lower": [0.0, 8.0, 45.0],
                         "value_change_absolute_upper": [0.0, 12.0, 55.0]}, index=[0.0, 1.0, 5.0])
    both["value_change"], both["value_change_pct"] = both["value_change_absolute"], both["value_change_pct_absolute"]
    both.attrs["shown"] = "absolute"
    ax = plots.plot_what_if(both, horizon=52)
    assert len(ax.patches) == 4
    assert ax.get_legend().get_title().get_text() == "error bars: 90% interval (parameter uncertainty)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["absolute cut (shown)", "proportional cut"]
    bars = [c for c in ax.containers if hasattr(c, "errorbar")]
    assert bars[0].errorbar is not None and bars[1].errorbar is None   # interval only where drawn
    _check(ax)
    leads = pd.DataFrame({"lead_id": [1, 2, 3], "created": ["2020-01-01"] * 3,
                          "source": ["a", "b", "b"], "converted": ["2020-01-05", None, "2020-01-09"]})
    _, _, kms = leads_conversion(leads, as_of="2020-02-01")
    ax = plots.plot_conversion(kms)
    assert "days" in ax.get_xlabel()
    _check(ax)


def test_funnel_by_period_marks_the_periods_that_are_not_complete():
    from clm_lib.studies.lifecycle_segments.leads import lead_funnel

    leads = pd.DataFrame({"lead_id": range(4), "created": ["2020-01-05", "2020-01-20", "2020-02-10", "2020-03-01"],
                          "source": ["a", "b", "a", "b"],
                          "converted": ["2020-01-09", None, "2020-02-12", None]})
    f = lead_funnel(leads, as_of="2020-03-20", window_days=30)
    ax = plots.plot_funnel_periods(f.by_period, window_days=30, level=0.95)
    assert ax.get_ylabel() == "leads converted within 30 days (%)"
    assert ax.get_xlabel() == "creation month"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(labels) == {"not complete: window not over", "converted within 30 days (95 % interval)"}
    shaded = list(ax.patches)                              # Feb and Mar are not complete
    assert len(shaded) == 1 and shaded[0].get_x() == pytest.approx(0.5)
    _check(ax)
    ax = plots.plot_conversion(f.km, time_unit="day", max_time=20)
    assert ax.get_xlim() == (0, 20) and ax.get_xlabel() == "days since the lead was created"
    _check(ax)
    assert plots.plot_funnel_periods(None) is None


def test_nothing_to_draw_without_models_or_leads():
    # the study holds None for the what-if (models not fitted) and the leads (none given)
    assert plots.plot_what_if(None) is None and plots.plot_conversion(None) is None


def test_stage_chart_is_interactive_with_formatted_tooltips(parts):
    _, end, _, _, _ = parts
    table = stages.stage_table(end)
    table["clv"] = np.arange(len(table)) * 1000.5
    table["clv_share"] = table["clv"] / table["clv"].sum()
    spec = plots.chart_stages(table, currency="$", value_label="expected value, next 52 weeks").to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 3 * len(table)                    # one bar per stage and share
    assert spec["mark"]["type"] == "bar" and spec["width"] == "container"
    enc = spec["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["xOffset"]["field"]) == ("stage", "share", "measure")
    assert enc["x"]["sort"] == [str(s) for s in table.index]
    assert [t["title"] for t in enc["tooltip"]] == ["stage", "bar", "share", "customers",
                                                    "revenue to date", "expected value, next 52 weeks"]
    lapsed = next(r for r in rows if r["stage"] == "lapsed" and r["measure"] == "share of customers")
    n = int(table.loc["lapsed", "customers"])
    assert lapsed["customers"] == f"{n:,}" and lapsed["share"] == pytest.approx(table.loc["lapsed", "customer_share"])
    assert lapsed["share_text"].endswith(" %") and lapsed["value"].startswith("$")
    assert enc["color"]["scale"]["range"] == list(PALETTE[:3])
    # without customer values: two shares, no value tooltip
    spec = plots.chart_stages(stages.stage_table(end)).to_dict()
    assert len(next(iter(spec["datasets"].values()))) == 2 * len(table)
    assert "expected value" not in [t["title"] for t in spec["encoding"]["tooltip"]]


def test_colour_blind_safe_colours_and_whole_period_ticks(parts):
    from matplotlib.colors import to_hex
    from matplotlib.ticker import MaxNLocator

    _, _, m, _, kmf = parts
    ax = plots.plot_flows(m)
    used = {to_hex(p.get_facecolor()) for p in ax.patches}
    assert used and used <= {c.lower() for c in PALETTE}
    plt.close(ax.figure)
    ax = plots.plot_transition_matrix(m)
    assert ax.collections[0].get_cmap().name == SEQUENTIAL
    plt.close(ax.figure)
    ax = plots.plot_time_to_second_purchase(kmf)
    loc = ax.xaxis.get_major_locator()
    assert isinstance(loc, MaxNLocator) and loc._integer
    plt.close(ax.figure)
