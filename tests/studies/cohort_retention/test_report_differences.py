"""Words, tables and the figure of the tested segment differences, on frames built by hand
(so the verdicts and the numbers in the sentences are known)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from clm_lib.format import format_frame  # noqa: E402
from clm_lib.studies.cohort_retention.differences import (  # noqa: E402
    COLUMNS,
    NOISE,
    REAL,
    retention_differences,
)
from clm_lib.studies.cohort_retention.report_differences import (  # noqa: E402
    difference_summary,
    differences_figure,
    differences_notes,
    differences_table,
    k_ranges,
    logrank_table,
)
from tests.studies.cohort_retention.test_differences import random_snapshot  # noqa: E402


def hand_frame():
    """Pair A: +6.1 points at k = 3, real at k = 1-3, noise at 4-5; pair B: never real."""
    rows = []
    for k, d, v in [(1, 0.050, REAL), (2, 0.055, REAL), (3, 0.061, REAL), (4, 0.010, NOISE),
                    (5, 0.008, NOISE)]:
        rows.append({"segment": "2+ CDs", "reference": "1 CD", "k": k, "retention": 0.2 + d,
                     "reference_retention": 0.2, "difference": d, "lower": d - 0.019,
                     "upper": d + 0.019, "z": 5.0, "p_value": 1e-6 if v == REAL else 0.3,
                     "p_adjusted": 1e-5 if v == REAL else 0.9, "verdict": v, "n": 900.0,
                     "n_reference": 2000.0, "retained": np.nan, "retained_reference": np.nan,
                     "mdd": 0.031})
    for k in range(1, 6):
        rows.append({"segment": "web", "reference": "1 CD", "k": k, "retention": 0.21,
                     "reference_retention": 0.2, "difference": 0.01 * (k == 2) - 0.002,
                     "lower": -0.02, "upper": 0.03, "z": 0.5, "p_value": 0.6,
                     "p_adjusted": 1.0, "verdict": NOISE, "n": 300.0, "n_reference": 2000.0,
                     "retained": np.nan, "retained_reference": np.nan, "mdd": 0.045})
    df = pd.DataFrame(rows)[COLUMNS]
    df.attrs.update({"alpha": 0.05, "level": 0.95, "family": len(df), "form": "transactions",
                     "kind": "bounded", "max_k": 12, "min_base": 30, "ks": None,
                     "unit": "month", "skipped": [],
                     "segment_sizes": {"1 CD": 2000.0, "2+ CDs": 900.0, "web": 300.0}})
    return df


def test_summary_sentences():
    lines = difference_summary(hand_frame())
    assert lines[0].startswith("Retention compared between segments: each segment against "
                               "“1 CD” (the reference), at months 1–5 — 10 comparisons")
    assert lines[1] == ("At month 3, retention in “2+ CDs” is 6.1 points higher than in "
                        "“1 CD” (26.1 % vs 20.0 %; 95 % CI +4.2 to +8.0 points; real after "
                        "Holm correction over 10 comparisons). The difference is real at "
                        "months 1–3; at months 4–5 it is within noise at this size.")
    assert lines[2] == ("“web” vs “1 CD”: no difference is real after Holm correction over 10 "
                        "comparisons; the largest, +0.8 points at month 2 (95 % CI −2.0 to "
                        "+3.0 points), is within noise at this size.")
    # the least powered comparison at the middle k (3)
    assert lines[3].startswith("At this size, a true difference of 4.5 points at month 3 "
                               "between “web” (300 customers in the base)")


def test_k_ranges():
    assert k_ranges([5, 1, 2, 3, 9, 10]) == "months 1–3, 5 and 9–10"
    assert k_ranges([6, 12], "k =", "k =") == "k = 6 and 12"


def test_table_and_notes():
    t = differences_table(hand_frame())
    shown = format_frame(t.frame, t.formats, rename=t.rename)
    assert t.frame.index.name == "segment"  # the segment leads each row, no row numbers
    assert shown.iloc[2]["difference"] == "+6.1 pts"
    assert shown.iloc[2]["p (Holm)"] == "< 0.001"
    assert "Holm-adjusted over all 10 rows" in t.caption
    notes = differences_notes(hand_frame())
    assert any("any dependence" in n for n in notes)
    assert notes[-1].startswith("Compared: k = 1–5")


def test_snapshot_words_and_logrank_table():
    res = retention_differences(random_snapshot(n=600), "plan", as_of=None, ks=[3, 6])
    lines = difference_summary(res)
    assert lines[-2].startswith("Log-rank test over all segments: χ² ")
    assert lines[-1].startswith("By pair, Holm-corrected over 3 log-rank tests")
    lt = logrank_table(res)
    assert len(lt.frame) == 4 and lt.frame.index[0] == "all"
    assert "Greenwood" in differences_notes(res)[0]


def test_forest_figure():
    ax = differences_figure(hand_frame())
    assert ax.get_xlabel() == "months since acquisition (k)"
    assert "percentage points" in ax.get_ylabel()
    assert ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["2+ CDs − 1 CD", "web − 1 CD"]
    assert len(ax.containers) == 2  # one error-bar set per pair
    plt.close(ax.figure)
