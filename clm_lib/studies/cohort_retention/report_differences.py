"""Wording and layout of the tested segment differences
(:mod:`clm_lib.studies.cohort_retention.differences`): the plain-language summary, the
display tables with captions, the method notes and the forest figure.

Every sentence is plain, data-derived text (no HTML or Markdown): show it with the
escaping helpers of :mod:`clm_lib.reporting`. Tables are :class:`.report.DisplayTable`
(``.show()`` in the notebook).
"""
from __future__ import annotations

import pandas as pd

from clm_lib import format as fmt
from clm_lib.plotting.differences import plot_segment_differences
from clm_lib.studies.cohort_retention.differences import (
    POWER,
    REAL,
    RetentionDifferences,
)
from clm_lib.studies.cohort_retention.report import DisplayTable

__all__ = ["difference_summary", "differences_figure", "differences_notes",
           "differences_table", "logrank_table", "k_ranges"]


def k_ranges(ks, unit: str = "month", plural: str | None = None) -> str:
    """``[1, 2, 3, 5, 7, 8]`` -> ``"months 1–3, 5 and 7–8"`` (``"month 4"`` for one k).

    >>> k_ranges([1, 2, 3, 5, 7, 8]), k_ranges([4])
    ('months 1–3, 5 and 7–8', 'month 4')
    """
    ks = sorted(int(k) for k in ks)
    if not ks:
        return ""
    runs, start, prev = [], ks[0], ks[0]
    for k in ks[1:] + [None]:
        if k is not None and k == prev + 1:
            prev = k
            continue
        runs.append(f"{start}" if start == prev else f"{start}–{prev}")
        if k is not None:
            start = prev = k
    word = unit if len(ks) == 1 else (plural or f"{unit}s")
    body = runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1]
    return f"{word} {body}"


def _pts(x: float, digits: int = 1) -> str:
    """A difference (share) in points with its sign: ``+6.1``, ``−3.0``."""
    return fmt.points(x, digits).replace(" pts", "")


def _abs_pts(x: float, digits: int = 1) -> str:
    """The size of a difference in points, no sign: ``6.1``."""
    return fmt.number(100 * abs(x), digits)


def _ci(row) -> str:
    return f"{_pts(row.lower)} to {_pts(row.upper)} points"


def _frame(res) -> pd.DataFrame:
    return res.differences if isinstance(res, RetentionDifferences) else res


def _unit(df: pd.DataFrame, unit: str | None) -> str:
    return unit or df.attrs.get("unit") or "period"


def _family_line(df: pd.DataFrame, unit: str) -> str:
    m, a = len(df), df.attrs.get("alpha", 0.05)
    pairs = df[["segment", "reference"]].drop_duplicates()
    refs = pairs["reference"].unique()
    n_seg = len(df.attrs.get("segment_sizes", {})) or len(set(pairs.stack()))
    if len(refs) == 1 and len(pairs) == n_seg - 1 and n_seg > 2:
        who = f"each segment against “{refs[0]}” (the reference)"
    elif len(pairs) == 1:
        who = f"“{pairs.iloc[0, 0]}” against “{pairs.iloc[0, 1]}”"
    else:
        who = f"every pair of the {n_seg} segments"
    return (f"Retention compared between segments: {who}, at {k_ranges(df['k'].unique(), unit)}"
            f" — {m} comparisons in all. Holm's correction over all {m} keeps the chance "
            f"of calling any difference real when it is not at {fmt.percent(a, 0)}.")


def _pair_line(g: pd.DataFrame, m: int, unit: str, level: float) -> str:
    seg, ref = g["segment"].iloc[0], g["reference"].iloc[0]
    real = g.loc[g["verdict"] == REAL]
    lv = fmt.percent(level, 0)
    if real.empty:
        top = g.loc[g["difference"].abs().idxmax()]
        return (f"“{seg}” vs “{ref}”: no difference is real after Holm correction over {m} "
                f"comparisons; the largest, {_pts(top.difference)} points at {unit} "
                f"{int(top.k)} ({lv} CI {_ci(top)}), is within noise at this size.")
    top = real.loc[real["difference"].abs().idxmax()]
    word = "higher" if top.difference > 0 else "lower"
    head = (f"At {unit} {int(top.k)}, retention in “{seg}” is {_abs_pts(top.difference)}"
            f" points {word} than in “{ref}” ({fmt.percent(top.retention)} vs "
            f"{fmt.percent(top.reference_retention)}; {lv} CI {_ci(top)}; real after Holm "
            f"correction over {m} comparisons).")
    up, down = real.loc[real["difference"] > 0, "k"], real.loc[real["difference"] < 0, "k"]
    if len(up) and len(down):
        where = (f"The difference is real at {k_ranges(up, unit)} (higher) and at "
                 f"{k_ranges(down, unit)} (lower)")
    else:
        where = f"The difference is real at {k_ranges(real['k'], unit)}"
    noise = g.loc[g["verdict"] != REAL, "k"]
    if len(noise):
        where += f"; at {k_ranges(noise, unit)} it is within noise at this size"
    return head + " " + where + "."


def _mdd_line(df: pd.DataFrame, unit: str) -> str | None:
    ks = sorted(df["k"].unique())
    k = ks[(len(ks) - 1) // 2]
    at = df.loc[(df["k"] == k) & df["mdd"].notna()]
    if at.empty:
        return None
    row = at.loc[at["mdd"].idxmax()]
    return (f"At this size, a true difference of {_abs_pts(row.mdd)} points at {unit} {k} "
            f"between “{row.segment}” ({fmt.count(row.n)} customers in the base) and "
            f"“{row.reference}” ({fmt.count(row.n_reference)}) would be found real with "
            f"{fmt.percent(POWER, 0)} power; smaller true differences can read as noise.")


def _logrank_lines(lr: pd.DataFrame) -> list[str]:
    first = lr.iloc[0]
    n_seg = len(lr) - 1
    verdict = ("the survival curves differ" if first.verdict == REAL
               else "the survival curves cannot be told apart at this size")
    lines = [f"Log-rank test over all segments: χ² {fmt.number(first.chi2, 1)} on "
             f"{int(first.df)} degrees of freedom, p {_p(first.p_value)}: {verdict}."]
    pairs = lr.iloc[1:]
    if n_seg:
        parts = [f"“{r.segment}” vs “{r.reference}” "
                 f"{'real' if r.verdict == REAL else 'noise at this size'} "
                 f"(χ² {fmt.number(r.chi2, 1)}, adjusted p {_p(r.p_adjusted)})"
                 for r in pairs.itertuples()]
        lines.append(f"By pair, Holm-corrected over {n_seg} log-rank tests: "
                     + "; ".join(parts) + ".")
    return lines


def _p(p) -> str:
    text = fmt.p_value(p)
    return text if text.startswith("<") else f"= {text}"


def difference_summary(res, logrank: pd.DataFrame | None = None, *,
                       unit: str | None = None) -> list[str]:
    """The differences in words: the family, one sentence per segment pair (the largest
    real difference with its interval, where the difference is real and where noise), the
    minimum detectable difference and, for snapshot data, the log-rank tests.

    Parameters
    ----------
    res : RetentionDifferences or DataFrame
        :func:`~.differences.retention_differences` or
        :func:`~.differences.segment_differences`.
    logrank : DataFrame, optional
        :func:`~.differences.logrank_differences` (taken from ``res`` when it is a
        :class:`~.differences.RetentionDifferences`).
    unit : str, optional
        The period of ``k`` (default: recorded in the table).
    """
    df = _frame(res)
    if logrank is None and isinstance(res, RetentionDifferences):
        logrank = res.logrank
    u = _unit(df, unit)
    level = df.attrs.get("level", 0.95)
    lines = [_family_line(df, u)]
    for _, g in df.groupby(["segment", "reference"], sort=False):
        lines.append(_pair_line(g, len(df), u, level))
    mdd = _mdd_line(df, u)
    if mdd:
        lines.append(mdd)
    skipped = df.attrs.get("skipped") or []
    if skipped:
        lines.append("Not compared, for want of customers in a base at k = 1: "
                     + "; ".join(f"“{s}” vs “{r}”" for s, r in skipped) + ".")
    if logrank is not None and len(logrank):
        lines += _logrank_lines(logrank)
    return lines


def differences_notes(res) -> list[str]:
    """Method notes: what is compared, the test, the interval, the family and the limit
    on ``k``."""
    df = _frame(res)
    a, level = df.attrs.get("alpha", 0.05), df.attrs.get("level", 0.95)
    cap, base = df.attrs.get("max_k"), df.attrs.get("min_base")
    if df.attrs.get("form") == "snapshot":
        what = ("Retention is the Kaplan-Meier survival of each segment at k periods of "
                "tenure; a difference gets a normal interval from the two Greenwood "
                "variances and a Wald z test. Near 100 % (no churn yet in a segment) the "
                "Greenwood variance is close to 0 and this test is optimistic; the log-rank "
                "test compares the whole curves and does not have that weakness.")
    else:
        kind = "active in exactly" if df.attrs.get("kind") == "bounded" else "active in or after"
        what = (f"Retention at k is pooled over the cohorts observable at k: customers {kind}"
                " period k over the customers acquired in those cohorts (the study's segment "
                "curve). A difference gets Newcombe's hybrid score interval and the "
                "two-proportion z test with the pooled variance, which treat customers as "
                "independent (the spread between cohorts is not in them).")
    return [what,
            f"Intervals are {fmt.percent(level, 0)} intervals per row, not simultaneous. "
            f"The family for Holm's correction is every row shown ({len(df)}: segment pairs × "
            f"k); Holm controls the family-wise error at {fmt.percent(a, 0)} under any "
            "dependence, which matters because successive k of a cohort are the same "
            "customers. “Real” means the adjusted p-value is below "
            f"{fmt.number(a, 2)}; “noise at this size” means the data cannot tell the "
            "difference from chance, not that there is none.",
            _k_note(df, cap, base)]


def _k_note(df: pd.DataFrame, cap, base) -> str:
    shown = k_ranges(df["k"].unique(), "k =", "k =")
    if df.attrs.get("ks") is not None:
        return (f"Compared: the chosen {shown}, where both bases hold at least {base} "
                "customers.")
    upto = f"up to {cap}" if cap is not None else "with no upper limit"
    return (f"Compared: {shown} (k = 0 is 100 % by definition): from k = 1 {upto}, and only "
            f"while both bases hold at least {base} customers.")


def differences_table(res, *, unit: str | None = None) -> DisplayTable:
    """One row per comparison: retention of both segments, the difference with its
    interval, p-values and the verdict."""
    df = _frame(res)
    u = _unit(df, unit)
    level = fmt.percent(df.attrs.get("level", 0.95), 0)
    cols = ["segment", "reference", "k", "retention", "reference_retention", "difference",
            "lower", "upper", "p_value", "p_adjusted", "verdict", "n", "n_reference"]
    kk = f"tenure ({u}s)" if df.attrs.get("form") == "snapshot" else f"{u}s since acquisition"
    caption = (f"Difference in retention between segments (segment − reference) by {kk}; "
               f"{level} intervals per row; p-values Holm-adjusted over all {len(df)} rows.")
    return DisplayTable(df[cols].set_index("segment"), caption,
                        {"retention": "percent", "reference_retention": "percent",
                         "difference": "points", "lower": "points", "upper": "points",
                         "p_value": "p_value", "p_adjusted": "p_value", "n": "count",
                         "n_reference": "count"},
                        {"k": f"k ({kk})", "retention": "retention",
                         "reference_retention": "reference retention",
                         "difference": "difference", "lower": f"{level} CI from",
                         "upper": f"{level} CI to", "p_value": "p",
                         "p_adjusted": "p (Holm)", "n": "customers in base",
                         "n_reference": "reference customers in base"})


def logrank_table(res) -> DisplayTable | None:
    """The log-rank tests (snapshot data), or None."""
    lr = res.logrank if isinstance(res, RetentionDifferences) else res
    if lr is None:
        return None
    frame = lr.assign(reference=lr["reference"].replace("", fmt.MISSING))
    return DisplayTable(frame.set_index("segment"),
                        "Log-rank tests: all segments together (first row, not adjusted), "
                        f"then each pair, Holm-adjusted over the {len(lr) - 1} pairs.",
                        {"chi2": ("number", 1), "p_value": "p_value", "p_adjusted": "p_value",
                         "n": "count", "n_reference": "count"},
                        {"chi2": "χ²", "df": "degrees of freedom", "p_value": "p",
                         "p_adjusted": "p (Holm)", "n": "customers",
                         "n_reference": "reference customers"})


def differences_figure(res, *, ax=None, unit: str | None = None):
    """The forest figure (:func:`clm_lib.plotting.differences.plot_segment_differences`)."""
    df = _frame(res)
    return plot_segment_differences(df, ax=ax, unit=_unit(df, unit),
                                    snapshot=df.attrs.get("form") == "snapshot")
