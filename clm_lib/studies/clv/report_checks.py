"""The words, tables, metrics and export columns of the CLV model checks and of the
purchase distribution (:mod:`clm_lib.studies.clv.checks`). Every number is computed;
data-derived text reaches the page through the report's escaping helpers."""
from __future__ import annotations

import pandas as pd

from clm_lib import format as fmt
from clm_lib.reporting import Column
from clm_lib.studies.clv.checks import p_no_purchase_column
from clm_lib.studies.clv.compute import ClvStudy
from clm_lib.studies.clv.tables import model_label

__all__ = ["FIT_ALPHA", "chi_square_sentence", "chi_square_table", "bands_sentence",
           "bands_table", "log_score_sentence", "new_customer_sentence", "checks_metrics",
           "distribution_columns", "distribution_column_names", "chi_square_sentences",
           "bands_sentences", "bands_alt"]

#: A histogram "does not fit" below this p-value.
FIT_ALPHA = 0.05


def chi_square_sentence(label: str, chi: dict | None) -> str:
    """One model's chi-square goodness of fit in words: fits or does not fit, with the
    statistic, degrees of freedom, cells and the p-value read as a chance."""
    if chi is None:
        return ""
    head = (f"{label}: chi-square {fmt.number(chi['statistic'], 1)} on {chi['df']} degrees of "
            f"freedom ({len(chi['cells'])} cells, each expecting at least 5 customers after pooling)")
    p = chi["p_value"]
    if p is None:
        return f"{head}: too few cells for a test after pooling."
    if p >= FIT_ALPHA:
        return (f"{head}, p = {fmt.p_value(p)}: the calibration histogram fits; a gap this large "
                f"would arise by chance {fmt.percent(p, 0)} of the time if the model were right.")
    chance = "less than 0.1 %" if p < 0.001 else fmt.percent(p, 1)
    return (f"{head}, p {'= ' if p >= 0.001 else ''}{fmt.p_value(p)}: the calibration histogram does "
            f"not fit; a gap this large would arise by chance {chance} of the time if the model "
            "were right.")


def chi_square_table(study: ClvStudy) -> dict | None:
    """Pooled cells per model: observed and expected customers (show_table arguments)."""
    c = study.checks
    if not c or not c["models"]:
        return None
    rows = []
    for name, m in c["models"].items():
        chi = m["chi_square"]
        if chi is None:
            continue
        for cell, o, e in zip(chi["cells"], chi["observed"], chi["expected"]):
            rows.append({"model": model_label(name), "repeat purchases": cell,
                         "customers": o, "expected": e, "contribution": (o - e) ** 2 / e})
    if not rows:
        return None
    df = pd.DataFrame(rows).set_index(["model", "repeat purchases"])
    return {"df": df, "caption": ("Chi-square goodness of fit of the calibration histogram: customers "
                                  f"by repeat purchases to {study.calibration_end}, pooled cells"),
            "formats": {"customers": "count", "expected": ("number", 1), "contribution": ("number", 2)},
            "rename": {"customers": "Customers, actual", "expected": "Customers, expected",
                       "contribution": "Contribution to chi-square"}}


def bands_sentence(study: ClvStudy, name: str) -> str:
    """How many frequency groups' actual holdout mean lies inside the model's band."""
    c = study.checks
    if not c or name not in c["models"] or c["models"][name]["holdout_bands"] is None:
        return ""
    b = c["models"][name]["holdout_bands"]
    level = fmt.percent(b.attrs.get("level", study.level), 0)
    outside = [str(i) for i in b.index[~b["inside"]]]
    noise = ("parameter uncertainty and the randomness of purchases" if b.attrs.get("parameter_draws", True)
             else "the randomness of purchases only: the fit was too uncertain to draw its parameters")
    head = (f"{model_label(name)}: the actual mean holdout purchases lie inside the {level} predictive "
            f"band ({noise}) in {int(b['inside'].sum())} of {len(b)} groups of calibration frequency")
    if not outside:
        return head + "."
    return head + f"; outside: {', '.join(outside)} repeat purchases."


def bands_table(study: ClvStudy, name: str) -> dict | None:
    """One model's holdout bands for display."""
    c = study.checks
    if not c or name not in c["models"] or c["models"][name]["holdout_bands"] is None:
        return None
    b = c["models"][name]["holdout_bands"]
    level = fmt.percent(b.attrs.get("level", study.level), 0)
    return {"df": b[["customers", "actual", "expected", "lower", "upper"]],
            "caption": (f"{model_label(name)}: mean holdout purchases per customer by calibration frequency, "
                        f"with the {level} predictive band of the group mean"),
            "formats": {"customers": "count", **{k: ("number", 3) for k in ("actual", "expected", "lower", "upper")}},
            "rename": {"frequency": "Repeat purchases in calibration", "customers": "Customers",
                       "actual": "Actual (mean)", "expected": "Expected (mean)",
                       "lower": "Band, low", "upper": "Band, high"}}


def log_score_sentence(study: ClvStudy) -> str:
    """Which model the holdout log predictive score prefers, and whether the holdout MAE
    prefers the same one."""
    c = study.checks
    if not c or not c["models"]:
        return ""
    parts = ", ".join(f"{model_label(k)} {fmt.number(m['log_score']['per_customer'], 4)}"
                      for k, m in c["models"].items())
    best = model_label(c["preferred_by_score"])
    text = (f"Holdout log predictive score (the natural log of the probability each model gave, from "
            f"her calibration history, to the number of purchases each customer then made in the "
            f"holdout; mean per customer, higher is better): {parts}. It prefers {best}")
    if c["preferred_by_mae"] is None:
        return text + "."
    if c["agree"]:
        return text + "; the holdout error per customer (MAE) prefers the same model."
    return text + (f"; the holdout error per customer (MAE) prefers {model_label(c['preferred_by_mae'])}: "
                   "the two measures disagree, the score judging the whole predicted distribution, "
                   "the MAE only its mean.")


def new_customer_sentence(study: ClvStudy, currency: str | None = "$") -> str:
    """What a customer just acquired is expected to buy and be worth (acquisition budgets)."""
    nc = study.forecast.get("new_customer")
    if not nc:
        return ""
    u = f"{study.time_unit}s"
    worth = "discounted margin" if study.value_basis == "margin" else "discounted revenue"
    return (f"A customer acquired now is expected to make {fmt.number(nc['purchases'], 2)} repeat "
            f"purchases in her first {nc['horizon']} {u} ({model_label(study.value_model)}), worth "
            f"{fmt.money(nc['value'], currency, 2)} in {worth} at the Gamma-Gamma mean spend of "
            f"{fmt.money(nc['mean_spend'], currency, 2)} per purchase (repeat purchases "
            "only: her first purchase comes on top), for acquisition budgets.")


def checks_metrics(study: ClvStudy) -> dict | None:
    """metrics.json ``model_checks``: per model the chi-square (cells, observed, expected,
    statistic, df, p-value, and ``fits``), the holdout bands by frequency and the log
    score; the preferred models and whether they agree; the sentences."""
    c = study.checks
    if not c:
        return None
    per = {}
    for name, m in c["models"].items():
        chi = m["chi_square"]
        b = m["holdout_bands"]
        per[name] = {
            "chi_square": None if chi is None else {
                **chi, "fits": None if chi["p_value"] is None else chi["p_value"] >= FIT_ALPHA,
                "text": chi_square_sentence(model_label(name), chi)},
            "holdout_bands": None if b is None else {
                "level": b.attrs.get("level"), "parameter_draws": b.attrs.get("parameter_draws"),
                "groups": {str(i): {k: (bool(v) if k == "inside" else float(v)) for k, v in row.items()}
                           for i, row in b.iterrows()},
                "text": bands_sentence(study, name)},
            "log_score": m["log_score"],
        }
    return {"models": per, "preferred_by_log_score": c["preferred_by_score"],
            "preferred_by_mae": c["preferred_by_mae"], "agree": c["agree"],
            "text": log_score_sentence(study)}


def distribution_column_names(study: ClvStudy) -> list[str]:
    """The per-customer export's purchase-distribution columns, in order."""
    return [p_no_purchase_column(study.horizon), "p_purchases_0", "p_purchases_1",
            "p_purchases_2", "p_purchases_3plus"]


def distribution_columns(study: ClvStudy) -> dict[str, Column]:
    """Data-dictionary entries of :func:`distribution_column_names`."""
    u = f"{study.time_unit}s"
    span = f"in the {study.horizon} {u} after {study.as_of}"
    by = f"({model_label(study.value_model)}, given the customer's history)"
    prob = "probability (0-1)"
    return {
        p_no_purchase_column(study.horizon): Column(
            f"probability of no purchase {span} {by}; the number in the name is the window in {u}", prob, 4),
        "p_purchases_0": Column(f"probability of exactly 0 purchases {span} {by}", prob, 4),
        "p_purchases_1": Column(f"probability of exactly 1 purchase {span} {by}", prob, 4),
        "p_purchases_2": Column(f"probability of exactly 2 purchases {span} {by}", prob, 4),
        "p_purchases_3plus": Column(f"probability of 3 or more purchases {span} {by}", prob, 4),
    }


def chi_square_sentences(study: ClvStudy) -> list[str]:
    """:func:`chi_square_sentence` of every checked model, in report order."""
    c = study.checks or {"models": {}}
    return [s for s in (chi_square_sentence(model_label(k), m["chi_square"]) for k, m in c["models"].items()) if s]


def bands_sentences(study: ClvStudy) -> list[str]:
    """:func:`bands_sentence` of every checked model, in report order."""
    c = study.checks or {"models": {}}
    return [s for s in (bands_sentence(study, k) for k in c["models"]) if s]


def bands_alt(study: ClvStudy, name: str) -> str:
    """Alt text of the holdout-bands figure of model ``name``."""
    b = (study.checks or {"models": {}})["models"].get(name, {}).get("holdout_bands")
    if b is None:
        return ""
    return (f"Mean holdout purchases per customer by calibration frequency, actual against "
            f"{model_label(name)}'s expectation and predictive band; " + bands_sentence(study, name))
