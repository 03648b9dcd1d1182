"""Tested differences between segments: hand-counted logs checked against statsmodels and
lifelines, the published Newcombe example, simulations of the family-wise error and of
power, and the binning of a numeric segment."""
import itertools

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from clm_lib.exceptions import DataContractError, InsufficientDataError, ParameterError
from clm_lib.reduce.periods import period_codes
from clm_lib.studies.cohort_retention.compute import _activity, _input, retention_by_segment
from clm_lib.studies.cohort_retention.differences import (
    NOISE,
    REAL,
    holm,
    logrank_differences,
    newcombe_interval,
    pooled_segment_retention,
    retention_differences,
    segment_differences,
    snapshot_segment_survival,
    two_proportion_ztest,
)
from clm_lib.studies.cohort_retention.segment_bins import bin_segment
from clm_lib.studies.cohort_retention.tables import segment_curves, total_activity

AS_OF = "2020-04-30"


def hand_log():
    """Two cohorts (Jan, Feb 2020), segment = channel of the first purchase; as_of the
    end of April, so Jan is observable to k = 3, Feb to k = 2.

    web (6):  a Jan,Feb,Mar  b Jan,Mar(shop)  c Jan,Apr  d Jan  | h Feb,Mar  i Feb
    shop (7): e Jan,Feb  f Jan  g Jan..Apr                      | j Feb,Apr  k Feb,Mar
              l Feb  m Feb,Mar,Apr
    """
    months = {"a": ("web", [1, 2, 3]), "b": ("web", [1, 3]), "c": ("web", [1, 4]),
              "d": ("web", [1]), "h": ("web", [2, 3]), "i": ("web", [2]),
              "e": ("shop", [1, 2]), "f": ("shop", [1]), "g": ("shop", [1, 2, 3, 4]),
              "j": ("shop", [2, 4]), "k": ("shop", [2, 3]), "l": ("shop", [2]),
              "m": ("shop", [2, 3, 4])}
    rows = []
    for cid, (seg, ms) in months.items():
        for i, m in enumerate(ms):
            # a later purchase in another channel does not move the customer
            rows.append((cid, f"2020-{m:02d}-10", 5.0, seg if i == 0 else "shop"))
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "channel"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["customer_id"] = df["customer_id"].astype("string")
    return df


# bounded, counted by hand from the docstring: k -> (active, base)
WEB = {1: (2, 6), 2: (2, 6), 3: (1, 4)}
SHOP = {1: (4, 7), 2: (3, 7), 3: (1, 3)}


def test_hand_log_z_test_and_holm_match_statsmodels():
    res = retention_differences(hand_log(), "channel", as_of=AS_OF, min_base=1)
    d = res.differences
    # two segments: one pair, the larger (shop, 7) the reference
    assert d[["segment", "reference"]].drop_duplicates().values.tolist() == [["web", "shop"]]
    assert d["k"].tolist() == [1, 2, 3]
    p_hand = []
    for _, row in d.iterrows():
        (x1, n1), (x2, n2) = WEB[row.k], SHOP[row.k]
        assert (row.retained, row.n, row.retained_reference, row.n_reference) == (x1, n1, x2, n2)
        assert row.difference == pytest.approx(x1 / n1 - x2 / n2)
        z, p = proportions_ztest([x1, x2], [n1, n2])
        assert row.z == pytest.approx(z) and row.p_value == pytest.approx(p)
        p_hand.append(p)
    reject, p_adj, *_ = multipletests(p_hand, alpha=0.05, method="holm")
    assert d["p_adjusted"].to_numpy() == pytest.approx(p_adj)
    assert (d["verdict"] == np.where(p_adj < 0.05, REAL, NOISE)).all()
    assert d.attrs["family"] == 3 and d.attrs["pairs"] == 1


def test_pooled_retention_is_the_study_segment_curve():
    d = retention_differences(hand_log(), "channel", as_of=AS_OF, min_base=1).differences
    curves = retention_by_segment(hand_log(), "channel", as_of=AS_OF).set_index(["segment", "k"])
    for _, row in d.iterrows():
        assert row.retention == pytest.approx(curves.loc[("web", row.k), "retention"])
        assert row.reference_retention == pytest.approx(curves.loc[("shop", row.k), "retention"])


@pytest.mark.parametrize("kind", ["bounded", "unbounded"])
def test_pooling_is_average_retention_on_a_simulated_log(kind):
    rng = np.random.default_rng(11)
    act = simulated_activity(rng, 300, {"a": 0.3, "b": 0.2})
    # a third cohort a month before as_of: observable only to k = 1
    late = simulated_activity(rng, 60, {"a": 0.3, "b": 0.2})
    late = late.loc[late["cohort_index"] == late["cohort_index"].min()].assign(
        cohort_index=int(period_codes(pd.to_datetime(["2020-05-15"]), "month")[0]))
    act = pd.concat([act, late.loc[late["period"] <= 3]], ignore_index=True)
    got = pooled_segment_retention(act, "month", SIM_AS_OF, kind=kind).set_index(["segment", "k"])
    want = segment_curves(act, "month", SIM_AS_OF, kind=kind).set_index(["segment", "k"])
    assert got["retention"].to_numpy() == pytest.approx(want["retention"].to_numpy())
    assert got["customers"].to_numpy() == pytest.approx(want["customers"].to_numpy())
    assert (got["cohorts"] == want["cohorts"]).all()


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(5)
    p = np.r_[rng.uniform(0, 0.1, 30) ** 2, [0.02, 0.02, 0.5, 1.0]]
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    with_nan = np.r_[p[:5], np.nan]
    assert np.isnan(holm(with_nan)[-1])
    assert holm(with_nan)[:5] == pytest.approx(multipletests(p[:5], method="holm")[1])


def test_unbounded_counts_by_hand():
    d = retention_differences(hand_log(), "channel", as_of=AS_OF, min_base=1,
                              kind="unbounded").differences.set_index("k")
    # web active at k >= 1: a, b, c (Jan) + h (Feb); shop: e, g + j, k, m
    assert (d.loc[1, "retained"], d.loc[1, "retained_reference"]) == (4, 5)


def test_k_limit_min_base_and_explicit_ks():
    log = hand_log()
    # bases at k = 1, 2 are 6 and 7, at k = 3 they are 4 and 3: min_base 4 stops at k = 2
    assert retention_differences(log, "channel", as_of=AS_OF, min_base=4
                                 ).differences["k"].tolist() == [1, 2]
    assert retention_differences(log, "channel", as_of=AS_OF, min_base=1, max_k=1
                                 ).differences["k"].tolist() == [1]
    assert retention_differences(log, "channel", as_of=AS_OF, min_base=1, ks=[3, 1]
                                 ).differences["k"].tolist() == [3, 1]
    with pytest.raises(InsufficientDataError):
        retention_differences(log, "channel", as_of=AS_OF)  # default 30: no base is enough


# ---------------------------------------------------------------------------------------
# Newcombe's interval
# ---------------------------------------------------------------------------------------
def _wilson(x, n, z):
    """Wilson's score interval written out (Newcombe 1998, method 3)."""
    p = x / n
    centre = (2 * n * p + z * z) / (2 * (n + z * z))
    half = z * np.sqrt(z * z + 4 * n * p * (1 - p)) / (2 * (n + z * z))
    return centre - half, centre + half


def test_newcombe_published_example():
    # Newcombe (1998), Table II, example (a): 56/70 - 48/80 = 0.2000, method 10
    # (hybrid score, no continuity correction): 0.0524 to 0.3339
    lo, hi = newcombe_interval(56, 70, 48, 80)
    assert float(lo) == pytest.approx(0.0524, abs=5e-5)
    assert float(hi) == pytest.approx(0.3339, abs=5e-5)


@pytest.mark.parametrize("x1,n1,x2,n2", [(56, 70, 48, 80), (9, 10, 3, 10), (5, 56, 0, 29),
                                         (0, 10, 0, 20), (10, 10, 0, 20), (120, 2000, 80, 1500)])
def test_newcombe_by_hand_and_statsmodels(x1, n1, x2, n2):
    z = stats.norm.ppf(0.975)
    l1, u1 = _wilson(x1, n1, z)
    l2, u2 = _wilson(x2, n2, z)
    d = x1 / n1 - x2 / n2
    hand = (d - np.sqrt((x1 / n1 - l1) ** 2 + (u2 - x2 / n2) ** 2),
            d + np.sqrt((u1 - x1 / n1) ** 2 + (x2 / n2 - l2) ** 2))
    got = newcombe_interval(x1, n1, x2, n2)
    assert [float(v) for v in got] == pytest.approx(hand, abs=1e-10)
    sm = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert [float(v) for v in got] == pytest.approx([float(v) for v in sm], abs=1e-8)


def test_z_test_without_variance():
    z, p, se = two_proportion_ztest(0, 10, 0, 20)
    assert (float(z), float(p), float(se)) == (0.0, 1.0, 0.0)


# ---------------------------------------------------------------------------------------
# Snapshot subscriptions: Kaplan-Meier and log-rank
# ---------------------------------------------------------------------------------------
def random_snapshot(seed=3, n=400):
    rng = np.random.default_rng(seed)
    seg = rng.choice(["basic", "plus", "pro"], size=n, p=[0.5, 0.3, 0.2])
    rate = pd.Series({"basic": 0.12, "plus": 0.08, "pro": 0.1})[seg].to_numpy()
    life = rng.geometric(rate)
    cens = rng.integers(1, 30, size=n)
    return pd.DataFrame({"customer_id": pd.array([f"c{i}" for i in range(n)], dtype="string"),
                         "tenure": np.minimum(life, cens).astype(float),
                         "churned": life <= cens, "plan": seg})


def test_logrank_matches_lifelines_on_the_raw_durations():
    raw = random_snapshot()
    res = retention_differences(raw, "plan", as_of=None, min_base=1)
    lr = res.logrank.set_index(["segment", "reference"])
    multi = multivariate_logrank_test(raw["tenure"], raw["plan"], raw["churned"])
    assert lr.loc[("all", ""), "chi2"] == pytest.approx(multi.test_statistic)
    assert lr.loc[("all", ""), "p_value"] == pytest.approx(multi.p_value)
    p_pairs = []
    for a, b in itertools.combinations(["basic", "plus", "pro"], 2):
        key = (b, a) if (b, a) in lr.index else (a, b)
        A, B = raw[raw.plan == key[0]], raw[raw.plan == key[1]]
        r = logrank_test(A.tenure, B.tenure, A.churned, B.churned)
        assert lr.loc[key, "chi2"] == pytest.approx(r.test_statistic)
        assert lr.loc[key, "p_value"] == pytest.approx(r.p_value)
        p_pairs.append((key, r.p_value))
    adj = multipletests([p for _, p in p_pairs], method="holm")[1]
    for (key, _), pa in zip(p_pairs, adj):
        assert lr.loc[key, "p_adjusted"] == pytest.approx(pa)
    # reference is the larger segment of each pair
    sizes = raw["plan"].value_counts()
    for seg, ref in lr.index[1:]:
        assert sizes[ref] >= sizes[seg]


def test_km_difference_and_greenwood_interval():
    raw = random_snapshot()
    res = retention_differences(raw, "plan", as_of=None, min_base=1, ks=[3, 6, 12])
    d = res.differences
    z = stats.norm.ppf(0.975)
    for _, row in d.iterrows():
        s, v = [], []
        for g in (row.segment, row.reference):
            sub = raw[raw.plan == g]
            kmf = KaplanMeierFitter().fit(sub.tenure, sub.churned)
            s.append(float(kmf.survival_function_at_times(row.k).iloc[0]))
            # Greenwood by hand from lifelines' event table
            et = kmf.event_table.loc[lambda e: (e.index <= row.k) & (e.index > 0)]
            n_, d_ = et["at_risk"].to_numpy(float), et["observed"].to_numpy(float)
            ok = n_ > d_
            v.append(s[-1] ** 2 * np.sum(d_[ok] / (n_[ok] * (n_[ok] - d_[ok]))))
        assert row.retention == pytest.approx(s[0])
        assert row.reference_retention == pytest.approx(s[1])
        se = np.sqrt(sum(v))
        assert row.lower == pytest.approx(s[0] - s[1] - z * se)
        assert row.upper == pytest.approx(s[0] - s[1] + z * se)
        assert row.p_value == pytest.approx(2 * stats.norm.sf(abs((s[0] - s[1]) / se)))
    assert d.attrs["family"] == 9  # 3 pairs x 3 k


def test_greenwood_tiny_by_hand():
    counts = pd.DataFrame({"segment": "x", "tenure": [1, 2, 2, 3],
                           "churned": [True, True, False, True], "customers": [1, 1, 1, 1]})
    km = snapshot_segment_survival(counts).set_index("k")
    # at risk 4, 3, 1; deaths 1, 1, 1: S = 3/4, 1/2, 0
    assert km.loc[2, "survival"] == pytest.approx(0.5)
    assert km.loc[2, "variance"] == pytest.approx(0.25 * (1 / (4 * 3) + 1 / (3 * 2)))


# ---------------------------------------------------------------------------------------
# Simulations: family-wise error under no difference, power under a real one
# ---------------------------------------------------------------------------------------
COHORTS = period_codes(pd.to_datetime(["2019-01-15", "2019-02-15"]), "month")
SIM_AS_OF = "2020-06-30"  # both cohorts observable well past k = 12
K = 13


def simulated_activity(rng, n_per_segment, means):
    """Customer-level activity with a frailty u ~ Beta(mean) per customer: active at each
    k >= 1 with probability u, so successive k of one customer are dependent (as in real
    cohorts). Returns the activity table split by segment."""
    rows = []
    for seg, mean in means.items():
        for c, n in zip(COHORTS, (n_per_segment // 2, n_per_segment - n_per_segment // 2)):
            u = rng.beta(2.0, 2.0 * (1 - mean) / mean, size=n)
            act = rng.random((n, K)) < u[:, None]
            act[:, 0] = True
            last = K - 1 - np.argmax(act[:, ::-1], axis=1)
            rows.append(pd.DataFrame({
                "segment": seg, "cohort_index": int(c), "period": np.arange(K),
                "customers": act.sum(axis=0), "revenue": 0.0,
                "last_active": np.bincount(last, minlength=K)}))
    return pd.concat(rows, ignore_index=True)


def test_family_wise_error_under_no_difference():
    rng = np.random.default_rng(20261204)
    runs, hits, raw, family = 200, 0, 0, None
    for _ in range(runs):
        act = simulated_activity(rng, 400, {"a": 0.3, "b": 0.3, "c": 0.3})
        d = segment_differences(act, form="transactions", cohort_period="month",
                                as_of=SIM_AS_OF)
        family = d.attrs["family"]
        hits += bool((d["verdict"] == REAL).any())
        raw += bool((d["p_value"] < 0.05).any())
    assert family == 36  # 3 pairs x k = 1..12
    # the correction is what keeps the error down: unadjusted, most runs show a "difference"
    assert raw / runs > 0.3
    rate = hits / runs
    mc = np.sqrt(0.05 * 0.95 / runs)
    assert rate <= 0.05 + 2.5 * mc, rate


def test_a_real_ten_point_difference_is_detected():
    rng = np.random.default_rng(7)
    for _ in range(5):
        act = simulated_activity(rng, 2000, {"a": 0.3, "b": 0.4})
        d = segment_differences(act, form="transactions", cohort_period="month",
                                as_of=SIM_AS_OF)
        assert (d["verdict"] == REAL).all()
        assert d["difference"].abs().mean() == pytest.approx(0.1, abs=0.02)
        assert ((d["lower"] < d["difference"]) & (d["difference"] < d["upper"])).all()
        # the minimum detectable difference at this size is well below 10 points
        assert d["mdd"].max() < 0.1


# ---------------------------------------------------------------------------------------
# Binning a numeric segment
# ---------------------------------------------------------------------------------------
def quantity_log():
    log = hand_log().drop(columns="channel")
    q = {"a": 1, "b": 2, "c": 3, "d": 5, "e": 1, "f": 1, "g": 2, "h": 4, "i": None,
         "j": 1, "k": 2, "l": 7, "m": 1}
    log["quantity"] = log["customer_id"].map(q).astype("Float64")
    return log


def test_binning_re_sums_to_the_unbinned_totals():
    inp = _input(quantity_log(), "month", AS_OF, "duckdb", "quantity")
    act = _activity(inp, "quantity")
    binned = bin_segment(act, [1, 2, 3], name="quantity")
    assert binned.attrs["segment_order"] == ["quantity 1", "quantity 2", "quantity ≥ 3",
                                             "(missing)"]
    pd.testing.assert_frame_equal(total_activity(binned), total_activity(act))
    size = binned.loc[binned["period"] == 0].groupby("segment")["customers"].sum()
    # 1: a e f j m; 2: b g k; >= 3: c d h l; missing: i
    assert size.to_dict() == {"(missing)": 1, "quantity 1": 5, "quantity 2": 3,
                              "quantity ≥ 3": 4}
    assert (binned["cohort_size"] == binned.groupby(["segment", "cohort_index"])["customers"]
            .transform("first")).all()


def test_binning_labels_and_errors():
    t = pd.DataFrame({"segment": pd.array(["0.0", "2.5", "4.0", "12.0"], dtype="string"),
                      "tenure": 1, "churned": False, "customers": [1, 2, 3, 4]})
    assert bin_segment(t, [1, 3, 10], name="spend")["segment"].tolist() == [
        "1 ≤ spend < 3", "3 ≤ spend < 10", "spend < 1", "spend ≥ 10"]
    whole = t.assign(segment=pd.array(["0", "2", "4", "12"], dtype="string"))
    assert sorted(bin_segment(whole, [1, 3, 10], name="n")["segment"]) == [
        "n 1–2", "n 3–9", "n < 1", "n ≥ 10"]
    with pytest.raises(DataContractError, match="not numbers"):
        bin_segment(t.assign(segment=pd.array(["1", "x", "y", "2"], dtype="string")), [1])
    with pytest.raises(ParameterError):
        bin_segment(t, [3, 1])


def test_binned_wrapper_and_reference_mode():
    res = retention_differences(quantity_log(), "quantity", as_of=AS_OF, bins=[1, 2, 3],
                                min_base=1)
    assert res.segments["segment"].tolist() == ["quantity 1", "quantity 2", "quantity ≥ 3",
                                                "(missing)"]
    # 4 segments: every pair (6), each k the bases allow
    assert res.differences.attrs["pairs"] == 6
    ref = retention_differences(quantity_log(), "quantity", as_of=AS_OF, bins=[1, 2, 3],
                                min_base=1, reference="quantity 2")
    assert set(ref.differences["reference"]) == {"quantity 2"}
    assert ref.differences.attrs["pairs"] == 3
    with pytest.raises(ParameterError):
        retention_differences(quantity_log(), "quantity", as_of=AS_OF, bins=[1, 2, 3],
                              reference="quantity 9")


def test_logrank_input_contract():
    with pytest.raises(InsufficientDataError):
        logrank_differences(pd.DataFrame({"segment": ["a"], "tenure": [1], "churned": [True],
                                          "customers": [3]}))


def test_interval_subscriptions_use_the_unbounded_study_curve():
    subs = pd.DataFrame({"customer_id": pd.array(list("xyzuv"), dtype="string"),
                         "start": pd.to_datetime(["2020-01-15", "2020-01-20", "2020-02-01",
                                                  "2020-01-03", "2020-02-11"]),
                         "end": pd.to_datetime(["2020-03-01", "2020-01-25", None, None,
                                                "2020-02-20"]),
                         "plan": ["a", "b", "a", "b", "b"]})
    d = retention_differences(subs, "plan", as_of=AS_OF, min_base=1).differences
    assert d.attrs["kind"] == "unbounded"
    # b (3 customers) is the reference; a: x (Jan, active to Feb), z (Feb, still active)
    curves = retention_by_segment(subs, "plan", as_of=AS_OF, kind="unbounded").set_index(
        ["segment", "k"])
    for _, row in d.iterrows():
        assert (row.segment, row.reference) == ("a", "b")
        assert row.retention == pytest.approx(curves.loc[("a", row.k), "retention"])
        assert row.reference_retention == pytest.approx(curves.loc[("b", row.k), "retention"])
    # k = 1 by hand: a: x in Feb, z in Mar -> 2 of 2; b: u in Feb, y and v gone -> 1 of 3
    first = d.set_index("k").loc[1]
    assert (first.retained, first.n, first.retained_reference, first.n_reference) == (2, 2, 1, 3)


# ---------------------------------------------------------------------------------------
# In the cohort study: one pass gives the curves and their tests, in the same bins
# ---------------------------------------------------------------------------------------
AS_OF_RANDOM = "2021-06-30"


def random_transactions(seed, n):
    """n customers acquired in 2020, each buying again with a monthly chance that rises
    with their first order's quantity (1-4)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        q = int(rng.integers(1, 5))
        day = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 366)))
        rows.append((f"c{i}", day, float(q)))
        while True:
            day += pd.Timedelta(days=int(rng.exponential(60 / q)) + 1)
            if day > pd.Timestamp(AS_OF_RANDOM) or rng.random() < 0.15:
                break
            rows.append((f"c{i}", day, float(rng.integers(1, 5))))
    out = pd.DataFrame(rows, columns=["customer_id", "timestamp", "quantity"])
    out["amount"] = 10.0
    return out

def test_cohort_study_tests_the_segments_it_draws_in_their_bins():
    from clm_lib.studies.cohort_retention.compute import cohort_study

    log = random_transactions(seed=5, n=2400)
    study = cohort_study(log, "month", as_of=AS_OF_RANDOM, segment="quantity",
                         segment_bins=[1, 2, 3], holdout_periods=0)
    alone = retention_differences(log, "quantity", as_of=AS_OF_RANDOM, bins=[1, 2, 3])
    pd.testing.assert_frame_equal(study.differences.differences, alone.differences)
    # the curves drawn are those of the bins tested, and add up to every customer
    assert set(study.segments["segment"]) == set(alone.segments["segment"])
    assert int(alone.segments["customers"].sum()) == int(study.tables.sizes.sum())
    assert study.parameters["segment_bins"] == [1.0, 2.0, 3.0]


def test_cohort_study_with_one_segment_says_why_there_is_no_test():
    from clm_lib.studies.cohort_retention.compute import cohort_study

    log = random_transactions(seed=6, n=400).assign(channel="web")
    study = cohort_study(log, "month", as_of=AS_OF_RANDOM, segment="channel",
                         holdout_periods=0)
    assert isinstance(study.differences, str) and "two or more" in study.differences
    with pytest.raises(ParameterError, match="segment_bins"):
        cohort_study(log, "month", as_of=AS_OF_RANDOM, segment_bins=[1, 2])
