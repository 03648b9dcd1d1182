"""The leads funnel (reach → acquisition → conversion) on a hand-built log of 12 leads,
every number checked against an independent computation: counts by hand, the Wilson
interval by its formula and by statsmodels, Kaplan-Meier by lifelines on durations
written out by hand and by the product-limit formula, Greenwood intervals by their formula;
the past does not change when later data arrive; the synthetic sample is reproducible and
gives back the parameters that generated it."""
from __future__ import annotations

import hashlib
import importlib.util
import math

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from scipy.stats import norm
from statsmodels.stats.proportion import proportion_confint

from clm_lib.config import DATA_DIR, LEADS_SYNTHETIC, REPO_ROOT
from clm_lib.exceptions import DataContractError, ParameterError
from clm_lib.studies.lifecycle_segments.leads import lead_funnel, wilson_interval

AS_OF = "2021-03-31"
# lead, created, source, converted; the days to convert (calendar days) in the comment
LOG = [
    ("L1", "2021-01-04", "web", "2021-01-06"),    # 2: within 30
    ("L2", "2021-01-10", "web", "2021-02-20"),    # 41: converted, not within 30
    ("L3", "2021-01-15", "mail", "2021-01-15"),   # 0: the same day
    ("L4", "2021-01-20", "mail", None),           # open: censored at 70
    ("L5", "2021-01-31", "web", "2021-03-02"),    # 30: on the window's last day, counts
    ("L6", "2021-02-01", "web", None),            # open: 58
    ("L7", "2021-02-14", "mail", "2021-02-21"),   # 7
    ("L8", "2021-02-28", "ads", "2021-03-31"),    # 31: on as_of, not within 30
    ("L9", "2021-03-05", "ads", "2021-03-10"),    # 5
    ("L10", "2021-03-20", "web", "2021-04-05"),   # after as_of: open at 11
    ("L11", "2021-03-31", "mail", None),          # created on as_of: open at 0
    ("L12", "2021-04-02", "web", "2021-04-03"),   # created after as_of: left out
]
# the same durations written out by hand (days, converted by as_of), L12 left out
DURATIONS = {"web": [(2, 1), (41, 1), (30, 1), (58, 0), (11, 0)],
             "mail": [(0, 1), (70, 0), (7, 1), (0, 0)],
             "ads": [(31, 1), (5, 1)]}
Z95 = norm.ppf(0.975)


def _leads(rows=LOG) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["lead_id", "created", "source", "converted"])


@pytest.fixture(scope="module")
def funnel():
    return lead_funnel(_leads(), as_of=AS_OF, period="month", window_days=30,
                       milestones=(7, 30, 60))


def _wilson(k, n, z=Z95):
    """The Wilson score interval by its formula (Wilson 1927)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_counts_by_period_by_hand(funnel):
    t = funnel.by_period
    assert list(t.index) == ["2021-01", "2021-02", "2021-03"]
    assert t["leads"].tolist() == [5, 3, 3]
    assert t["window_converted"].tolist() == [3, 1, 1]      # L1 L3 L5 | L7 | L9 so far
    # Jan: 31 + 30 days = 2021-03-02; Feb: 28 + 30 = 03-30 (both on or before as_of);
    # Mar: 03-31 + 30 = 04-30, after as_of
    assert t["window_end"].dt.strftime("%Y-%m-%d").tolist() == ["2021-03-02", "2021-03-30", "2021-04-30"]
    assert t["complete"].tolist() == [True, True, False]
    assert t["window_rate"].iloc[:2].tolist() == pytest.approx([3 / 5, 1 / 3])
    assert t.loc["2021-03", ["window_rate", "window_rate_lower", "window_rate_upper"]].isna().all()
    assert funnel.complete_through == "2021-02-28"
    assert funnel.dropped == {"leads created after as_of": 1}


def test_counts_by_source_by_hand(funnel):
    t = funnel.by_source
    assert list(t.index) == ["ads", "mail", "web", "All"]
    assert t["leads"].tolist() == [2, 4, 5, 11]
    assert t["converted"].tolist() == [2, 2, 3, 7]          # by as_of; L10's is later
    # the leads of the complete periods (created to 2021-02-28) and their conversions
    # within 30 days: ads L8 (31 days: no); mail L3 L4 L7; web L1 L2 L5 L6
    assert t["window_leads"].tolist() == [1, 3, 4, 8]
    assert t["window_converted"].tolist() == [0, 2, 2, 4]
    assert t["window_rate"].tolist() == pytest.approx([0, 2 / 3, 1 / 2, 1 / 2])
    # the All row is the sum of the complete periods
    done = funnel.by_period[funnel.by_period["complete"]]
    assert t.loc["All", "window_leads"] == done["leads"].sum()
    assert t.loc["All", "window_converted"] == done["window_converted"].sum()
    # median days of the leads converted within the window: web 2, 30; mail 0, 7; all four
    assert t["median_days_converted"].iloc[1:].tolist() == [3.5, 16, 4.5]
    assert np.isnan(t.loc["ads", "median_days_converted"])


def test_wilson_interval_against_its_formula_and_statsmodels(funnel):
    for table, base in ((funnel.by_source, "window_leads"), (funnel.by_period, "leads")):
        for _, r in table.dropna(subset=["window_rate"]).iterrows():
            k, n = int(r["window_converted"]), int(r[base])
            lo, hi = _wilson(k, n)
            assert (r["window_rate_lower"], r["window_rate_upper"]) == pytest.approx((lo, hi))
            sm = proportion_confint(k, n, alpha=0.05, method="wilson")
            assert (r["window_rate_lower"], r["window_rate_upper"]) == pytest.approx(sm)
    # 3 of 5 at 95 %: a published-style value computed once by hand
    assert wilson_interval(3, 5) == pytest.approx((0.2307, 0.8824), abs=1e-4)
    # other levels, and no leads: no interval
    lo, hi = wilson_interval([1, 0], [3, 0], level=0.8)
    assert (lo[0], hi[0]) == pytest.approx(_wilson(1, 3, norm.ppf(0.9)))
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_durations_match_the_hand_written_ones(funnel):
    d = funnel.durations
    for source, rows in DURATIONS.items():
        got = sorted(zip(d.loc[d["source"] == source, "duration"], d.loc[d["source"] == source, "event"]))
        assert got == sorted((float(a), bool(b)) for a, b in rows), source


def test_kaplan_meier_against_lifelines_and_the_product_limit(funnel):
    everything = [x for rows in DURATIONS.values() for x in rows]
    for name, rows in {**DURATIONS, "All": everything}.items():
        ref = KaplanMeierFitter().fit([a for a, _ in rows], [b for _, b in rows])
        times = [0, 2, 5, 7, 11, 30, 31, 41, 58]
        assert funnel.km[name].survival_function_at_times(times).to_numpy() == \
            pytest.approx(ref.survival_function_at_times(times).to_numpy()), name
        med = ref.median_survival_time_
        got = funnel.by_source.loc[name, "median_days"]
        assert (np.isnan(got) and np.isinf(med)) or got == med, name
    # All by hand: events at 0 (11 at risk), 2 (9: L11 censored at 0), 5 (8), 7 (7),
    # 30 (5: L10 censored at 11), 31 (4), 41 (3)
    s7 = 10 / 11 * 8 / 9 * 7 / 8 * 6 / 7
    s30 = s7 * 4 / 5
    s60 = s30 * 3 / 4 * 2 / 3
    m = funnel.milestones_table
    assert m.loc["All", ["share_7d", "share_30d", "share_60d"]].tolist() == \
        pytest.approx([1 - s7, 1 - s30, 1 - s60])
    assert funnel.by_source.loc["All", "median_days"] == 30       # S(30) = 0.485 < 0.5
    assert funnel.by_source.loc["web", "median_days"] == 41       # 4/5 * 2/3 * 1/2
    assert funnel.by_source.loc["mail", "median_days"] == 7       # 3/4, then 1 of 2 at risk
    assert funnel.by_source.loc["ads", "median_days"] == 5        # 1 of 2 at 5 days
    # beyond a group's longest follow-up the share is not observed: web to 58, ads to 31
    assert np.isnan(m.loc["web", "share_60d"]) and np.isnan(m.loc["ads", "share_60d"])
    assert not np.isnan(m.loc["mail", "share_60d"])               # followed to 70


def test_greenwood_interval_by_its_formula(funnel):
    # exponential (log-log) Greenwood at 7 days for All: V = sum d / (n (n - d)) / log(S)^2
    s7 = 10 / 11 * 8 / 9 * 7 / 8 * 6 / 7
    g = 1 / (11 * 10) + 1 / (9 * 8) + 1 / (8 * 7) + 1 / (7 * 6)
    v = g / math.log(s7) ** 2
    lo_s, hi_s = s7 ** math.exp(Z95 * math.sqrt(v)), s7 ** math.exp(-Z95 * math.sqrt(v))
    m = funnel.milestones_table.loc["All"]
    assert (m["share_7d_lower"], m["share_7d_upper"]) == pytest.approx((1 - hi_s, 1 - lo_s))
    assert m["share_7d_lower"] < m["share_7d"] < m["share_7d_upper"]


def test_the_past_does_not_change_when_later_data_arrive(funnel):
    # two months later: new leads, L10's and L4's conversions known (L4 after 80 days)
    later = [r if r[0] not in ("L4",) else (*r[:3], "2021-04-10") for r in LOG] + [
        ("L13", "2021-04-15", "ads", "2021-04-16"), ("L14", "2021-05-02", "mail", None),
        ("L15", "2021-05-30", "web", "2021-05-31")]
    f2 = lead_funnel(_leads(later), as_of="2021-05-31", window_days=30, milestones=(7, 30, 60))
    cols = ["leads", "window_converted", "window_rate", "window_rate_lower", "window_rate_upper"]
    pd.testing.assert_frame_equal(f2.by_period.loc[["2021-01", "2021-02"], cols],
                                  funnel.by_period.loc[["2021-01", "2021-02"], cols])
    # March is complete now (03-31 + 30 = 04-30): its rate appears, it never showed a lower one
    assert f2.by_period.loc["2021-03", "complete"]
    # L9 (5 days) and L10 (16 days, known only now): 2 of 3, above the 1 "so far" of March
    assert f2.by_period.loc["2021-03", "window_converted"] == 2
    assert f2.by_period.loc["2021-03", "window_rate"] == pytest.approx(2 / 3)
    # earlier, February was not complete yet: no rate rather than a low one
    f0 = lead_funnel(_leads(), as_of="2021-03-15", window_days=30)
    assert not f0.by_period.loc["2021-02", "complete"] and np.isnan(f0.by_period.loc["2021-02", "window_rate"])
    assert f0.by_period.loc["2021-01", "window_rate"] == funnel.by_period.loc["2021-01", "window_rate"]


def test_no_complete_period_and_other_periods():
    q = lead_funnel(_leads(), as_of=AS_OF, period="quarter", window_days=30)
    assert list(q.by_period.index) == ["2021-Q1"] and not q.by_period["complete"].any()
    assert q.complete_through is None and q.by_source["window_leads"].eq(0).all()
    assert q.by_source["window_rate"].isna().all()
    w = lead_funnel(_leads(), as_of=AS_OF, period="week", window_days=7)
    assert w.by_period.index[0] == "2021-W01" and w.by_period["leads"].sum() == 11
    # a week is complete when its Sunday + 7 days is on or before as_of
    last_done = w.by_period.index[w.by_period["complete"]][-1]
    assert last_done == "2021-W11"                # Mon 03-15 to Sun 03-21, + 7 = 03-28


def test_bad_input_is_refused():
    with pytest.raises(ParameterError, match="cohort_period"):
        lead_funnel(_leads(), as_of=AS_OF, period="fortnight")
    with pytest.raises(ParameterError, match="window_days"):
        lead_funnel(_leads(), as_of=AS_OF, window_days=-1)
    with pytest.raises(ParameterError, match="level"):
        lead_funnel(_leads(), as_of=AS_OF, level=95)
    early = _leads([("a", "2021-01-10", "web", "2021-01-01")])
    with pytest.raises(DataContractError, match="converted before"):
        lead_funnel(early, as_of=AS_OF)


# --------------------------------------------------------------------- the sample
def _sample_script():
    path = REPO_ROOT / "scripts" / "make_leads_sample.py"
    spec = importlib.util.spec_from_file_location("make_leads_sample", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_synthetic_sample_is_reproducible(tmp_path):
    mod = _sample_script()
    digest = mod.write(tmp_path / "leads.csv")
    assert LEADS_SYNTHETIC.name == mod.OUTPUT
    assert digest == mod.EXPECTED_SHA256 == hashlib.sha256(LEADS_SYNTHETIC.read_bytes()).hexdigest()
    readme = (DATA_DIR / "README.md").read_text()
    assert mod.EXPECTED_SHA256 in readme and "SYNTHETIC" in readme


def test_the_sample_gives_back_its_generating_parameters():
    from clm_lib.io import load_leads

    mod = _sample_script()
    leads, dq = load_leads(LEADS_SYNTHETIC, as_of="1998-06-30")
    assert dq.rows_in == dq.rows_used + dq.n_dropped
    f = lead_funnel(leads, as_of="1998-06-30", window_days=30, milestones=(30, 90, 365))
    for source, (_, p, _) in mod.SOURCES.items():
        r = f.by_source.loc[source]
        true = mod.converted_within(source, 30)
        se = math.sqrt(true * (1 - true) / r["window_leads"])
        assert abs(r["window_rate"] - true) < 3.5 * se, source
        # Kaplan-Meier: within 90 days and eventually (a year: the log-normal is done)
        n = r["leads"]
        for days, truth in ((90, mod.converted_within(source, 90)), (365, p)):
            share = f.milestones_table.loc[source, f"share_{days}d"]
            assert abs(share - truth) < 4 * math.sqrt(truth * (1 - truth) / n), (source, days)


def test_a_shown_rate_never_changes_as_the_observation_end_moves():
    """On the sample, month after month: once a creation month's rate is shown it stays
    the same, and every month's rate appears one window after the month ends."""
    raw = pd.read_csv(LEADS_SYNTHETIC, dtype=str, keep_default_na=False)
    raw = raw[raw["created"] != "not recorded"]
    raw = raw[(raw["converted"] == "") | (raw["converted"] >= raw["created"])]
    raw = raw.replace({"converted": {"": None}})
    shown: dict = {}
    for as_of in pd.date_range("1997-03-15", "1998-07-15", freq="19D"):
        t = lead_funnel(raw, as_of=as_of, window_days=30).by_period
        for period, r in t.iterrows():
            assert r["complete"] == (r["window_end"] <= as_of)
            if r["complete"]:
                got = (r["leads"], r["window_converted"], r["window_rate"])
                assert shown.setdefault(period, got) == got, (period, as_of)
            else:
                assert np.isnan(r["window_rate"])
    assert len(shown) >= 15


def test_the_period_table_as_the_report_shows_it(funnel):
    from dataclasses import dataclass

    from clm_lib.studies.lifecycle_segments import report
    from tests.studies.lifecycle_segments.test_report import _cells

    @dataclass
    class Study:                      # the two attributes the funnel views read
        leads_funnel: object
        leads_note: str | None = "synthetic"

    head, rows = _cells(report.funnel_period_view(Study(funnel)))
    assert head == ["Created (month)", "Leads", "Within 30 days", "Rate within 30 days",
                    "95 % interval", "Status"]
    assert rows[0][:5] == ["2021-01", "5", "3", "60.0 %", "23.1 % to 88.2 %"]
    from clm_lib.format import MISSING

    assert rows[2][3] == MISSING and rows[2][5] == "not complete: window ends 2021-04-30, 1 converted so far"
    assert rows[2][2] == rows[2][4] == MISSING
    text = report.funnel_reading(Study(funnel))
    assert text.startswith("Reach → conversion: 11 leads created to 2021-03-31 from 3 source(s); 7 converted")
    assert "The last month is not complete" in text
    assert report.leads_note_text(Study(funnel)) == "About these leads: synthetic."


def test_the_source_table_says_once_when_no_median_is_reached(funnel):
    from dataclasses import dataclass, replace

    from clm_lib.studies.lifecycle_segments import report
    from tests.studies.lifecycle_segments.test_report import _cells

    @dataclass
    class Study:
        leads_funnel: object
        leads_note: str | None = None

    head, rows = _cells(report.leads_view(Study(funnel)))
    assert head[-1] == "Median days (Kaplan-Meier)" and rows[-1][-1] == "30"
    assert rows[-1][:8] == ["All", "11", "7", "8", "4", "50.0 %", "21.5 % to 78.5 %", "4"]
    none = replace(funnel, by_source=funnel.by_source.assign(median_days=np.nan))
    view = report.leads_view(Study(none))
    assert "Median days (Kaplan-Meier)" not in _cells(view)[0]
    assert "the Kaplan-Meier median is not reached" in view["caption"]
