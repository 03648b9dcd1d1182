"""Covariates in the CLV study: where they come from, how they are encoded, and the fits
with and without them.

A covariate is a customer attribute that does not change: a column of the transactions
taken on the customer's first purchase day (:meth:`clm_lib.reduce.Engine.first_purchase_values`:
numbers summed over that day's rows, e.g. the CDs of the first order; text the smallest
value of that day), or a column of a customer table (``customers``: a CSV or Parquet file
with ``customer_id``), joined on ``customer_id``. Customers missing from the table, with a
duplicated id in it or without a value are counted per reason and left out of the
covariate fits (customers in = used + dropped); the fits without covariates that they are
compared with are refitted on the same customers, so the likelihood-ratio test compares
nested models on the same data.

Encoding: a numeric column enters as given (one unit more of it); a text column as
indicators of each level against the most frequent level (its baseline), at most
:data:`MAX_LEVELS` levels. The purchase model that values customers (the holdout's
choice) is refitted with the purchase and dropout covariates, on the calibration period
(holdout errors) and on all data to ``as_of`` (effects, test, values), and the Gamma-Gamma
with the spend covariates on all data. :func:`covariate_fits` returns a frozen
:class:`CovariateFits`; its wording is in :mod:`clm_lib.studies.clv.report_covariates`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clm_lib.checks import require_columns as _check
from clm_lib.clv.covariates import CovariateModel
from clm_lib.exceptions import ConvergenceError, InsufficientDataError, ParameterError

__all__ = ["MAX_LEVELS", "PROCESSES", "CovariateFits", "covariate_spec", "read_customers",
           "customer_attributes", "encode_covariates", "covariate_fits"]

#: Most levels a text covariate may have (each level but the baseline is a coefficient).
MAX_LEVELS = 12

#: The processes a covariate can act on, as the parameters name them.
PROCESSES = ("purchase", "dropout", "spend")


def covariate_spec(covariates=(), purchase=None, dropout=None, spend=None) -> dict:
    """The source columns of each process: ``covariates`` on every process, unless a
    process is given its own list (``[]``: none on it).

    >>> covariate_spec(["quantity"], spend=[])
    {'purchase': ('quantity',), 'dropout': ('quantity',), 'spend': ()}
    """
    out = {}
    covariates = () if covariates is None else covariates
    for name, given in zip(PROCESSES, (purchase, dropout, spend)):
        cols = covariates if given is None else given
        if isinstance(cols, str):
            cols = [cols]
        for c in cols:
            if not isinstance(c, str) or not c:
                raise ParameterError(f"covariates{'' if given is None else '_' + name} must be "
                                     f"a list of column names, got {c!r}")
        out[name] = tuple(dict.fromkeys(cols))
    return out


def read_customers(path, columns=None) -> pd.DataFrame:
    """The customer table: a CSV or Parquet file (or a DataFrame) with ``customer_id`` and
    attributes; ``columns`` (source name -> canonical name, as for the transactions)
    renames the columns it names. ``customer_id`` is read as text."""
    if isinstance(path, pd.DataFrame):
        df = path.copy()
    elif isinstance(path, (str, os.PathLike)):
        p = str(path)
        if not os.path.exists(p):
            raise ParameterError(f"customers: no such file {p}")
        # the id is text (leading zeros kept), under its source name
        src_id = next((k for k, v in dict(columns or {}).items() if v == "customer_id"),
                      "customer_id")
        df = (pd.read_parquet(p) if p.lower().endswith((".parquet", ".pq"))
              else pd.read_csv(p, dtype={src_id: str}))
    else:
        raise ParameterError(f"customers must be a path to a CSV or Parquet file, got {path!r}")
    if columns:
        df = df.rename(columns={k: v for k, v in dict(columns).items() if k in df.columns})
    _check(df, ["customer_id"], "customer table")
    df["customer_id"] = df["customer_id"].astype("string")
    return df


def customer_attributes(eng, transactions, names, *, as_of, customer_ids,
                        customers: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """The raw covariates ``names`` of the customers ``customer_ids``, with what was lost.

    A name found in the customer table ``customers`` is read there (joined on
    ``customer_id``); else it is a column of ``transactions``, taken on the first purchase
    day (:meth:`clm_lib.reduce.Engine.first_purchase_values`).

    Returns
    -------
    (DataFrame, dict)
        The attributes of the customers kept, indexed by ``customer_id``; and the record
        ``{"customers_in", "customers_used", "dropped": {reason: n}, "sources":
        {name: "transactions" | "customer table"}}`` where ``customers_in`` =
        ``customers_used`` + the sum of ``dropped``.

    Raises
    ------
    ParameterError
        A name that is neither a column of the transactions nor of the customer table
        (naming the columns present).
    """
    ids = pd.Index(pd.Index(customer_ids).astype("string"), name="customer_id")
    table_cols = [c for c in (customers.columns if customers is not None else [])
                  if c != "customer_id"]
    tx_cols = [c for c in transactions.columns]
    unknown = [n for n in names if n not in table_cols and n not in tx_cols]
    if unknown:
        present = ", ".join(sorted(set(tx_cols) | set(table_cols)))
        raise ParameterError(f"covariate {', '.join(unknown)} is not a column of the "
                             f"transactions{' or the customer table' if customers is not None else ''}"
                             f" (columns present: {present})")
    from_table = [n for n in names if n in table_cols]
    from_tx = [n for n in names if n not in table_cols]
    out = pd.DataFrame(index=ids)
    dropped = {}
    keep = pd.Series(True, index=ids)
    if from_tx:
        first = eng.first_purchase_values(transactions, from_tx, as_of=as_of)
        first.index = first.index.astype("string")
        out = out.join(first)
    if from_table:
        tab = customers[["customer_id"] + from_table]
        dup_ids = tab["customer_id"][tab["customer_id"].duplicated(keep=False)]
        dup = ids.isin(dup_ids)
        missing = ~ids.isin(tab["customer_id"])
        if missing.any():
            dropped["not in the customer table"] = int(missing.sum())
        if dup.any():
            dropped["customer_id more than once in the customer table"] = int(dup.sum())
        keep &= ~(missing | dup)
        out = out.join(tab.drop_duplicates("customer_id", keep=False).set_index("customer_id"))
    for n in names:
        na = keep & out[n].isna()
        if na.any():
            dropped[f"no value of {n}"] = int(na.sum())
        keep &= ~out[n].isna()
    record = {"customers_in": int(len(ids)), "customers_used": int(keep.sum()),
              "dropped": dropped,
              "sources": {n: "customer table" if n in from_table else "transactions"
                          for n in names}}
    return out.loc[keep.to_numpy(), list(names)], record


def encode_covariates(raw: pd.DataFrame, *, max_levels: int = MAX_LEVELS
                      ) -> tuple[pd.DataFrame, list[dict]]:
    """The numeric design of the raw covariates and what each of its columns means.

    A numeric column is kept as given (its coefficient is per one unit more); a text (or
    boolean) column becomes one 0/1 column ``"<column>=<level>"`` per level but the most
    frequent one (the baseline; on a tie the smallest level).

    Returns
    -------
    (DataFrame, list of dict)
        The design (floats, same index); per design column ``{"name", "column", "kind":
        "numeric" | "level", "level", "baseline"}`` (``level``/``baseline`` None for a
        numeric column).

    Raises
    ------
    ParameterError
        A column with more than ``max_levels`` levels, or with a single value (nothing
        to compare).
    """
    design, terms = {}, []
    for col in raw.columns:
        s = raw[col]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if s.nunique(dropna=True) < 2:
            raise ParameterError(f"covariate {col} takes a single value in the "
                                 f"{len(s):,} customers used: it cannot explain differences")
        if numeric:
            design[col] = s.astype(float).to_numpy()
            terms.append({"name": col, "column": col, "kind": "numeric", "level": None,
                          "baseline": None})
            continue
        s = s.astype("string")
        counts = s.value_counts()
        if len(counts) > max_levels:
            raise ParameterError(f"covariate {col} has {len(counts):,} levels in the "
                                 f"{len(s):,} customers used; at most {max_levels} are "
                                 "allowed (group the rare ones, or leave it out)")
        top = counts.max()
        baseline = sorted(str(v) for v in counts.index[counts == top])[0]
        for level in sorted(str(v) for v in counts.index if str(v) != baseline):
            name = f"{col}={level}"
            design[name] = (s == level).astype(float).to_numpy()
            terms.append({"name": name, "column": col, "kind": "level", "level": level,
                          "baseline": baseline})
    return pd.DataFrame(design, index=raw.index), terms


def _design_names(terms: list[dict], columns) -> tuple[str, ...]:
    return tuple(t["name"] for t in terms if t["column"] in columns)


# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CovariateFits:
    """The study's fits with and without covariates; see :func:`covariate_fits`.

    ``spec`` maps each process to its source columns, ``design`` each process to its
    design columns (``terms`` says what each means); ``record`` what the join and the
    missing values left out (:func:`customer_attributes`). ``model`` is the key of the
    purchase model refitted with covariates (the one that values customers).
    ``purchase`` / ``spend`` hold the fits on all data to ``as_of`` with (``"with"``) and
    without (``"without"``) covariates, on the same customers; ``lrt`` the
    likelihood-ratio test of each (``{"purchase": {...}, "spend": {...}}``: statistic,
    df, p_value) and ``aic`` their AICs; ``holdout`` the holdout errors of the purchase
    model fitted on the calibration period with and without covariates
    (:func:`clm_lib.studies.clv.compute.holdout_errors`). ``effects`` the multiplicative
    effects of every covariate on every process (process, covariate, multiplier, lower,
    upper, p_value, meaning), ``level`` their interval level. ``errors`` says why a fit
    is missing (its key absent from ``purchase``/``spend``). ``values`` the per-customer
    expected purchases, P(alive) and CLV from the covariate models (None when a fit is
    missing), and ``valued_by_covariates`` whether the study's values are those.
    """

    spec: dict
    design: dict
    terms: list
    record: dict
    model: str
    purchase: dict
    spend: dict
    lrt: dict
    aic: dict
    holdout: dict
    effects: pd.DataFrame | None
    level: float
    errors: dict
    values: pd.DataFrame | None = None
    valued_by_covariates: bool = False


def _compressed(data: pd.DataFrame, cols) -> pd.DataFrame:
    """Identical rows of ``cols`` counted in ``weights`` (the exact compression: the
    likelihood of a row depends only on these columns)."""
    return data.groupby(list(cols), sort=False).size().rename("weights").reset_index()


def _fit_purchase(cls, data, design, *, with_covariates: bool):

    cols = ["frequency", "recency", "T"] + (list(design["purchase"] + design["dropout"])
                                            if with_covariates else [])
    comp = _compressed(data, dict.fromkeys(cols))
    if not with_covariates:
        return cls().fit(comp, weights="weights")
    return CovariateModel(cls, purchase=design["purchase"], dropout=design["dropout"]).fit(
        comp, weights="weights")


def _fit_spend(data, design, *, with_covariates: bool):
    from clm_lib.clv.gamma_gamma import GammaGammaModel
    from clm_lib.clv.valuation import spend_frame

    spend = spend_frame(data)
    spend.index = data.index
    spend = spend.join(data[list(design["spend"])])
    spend = spend.loc[spend["frequency"] > 0]
    if not with_covariates:
        return GammaGammaModel().fit(spend[["frequency", "monetary_value"]])
    return CovariateModel(GammaGammaModel, spend=design["spend"]).fit(spend)


def covariate_values(model, spend_model, data: pd.DataFrame, design: dict, *, horizon: int,
                     discount_rate: float, margin: float) -> pd.DataFrame:
    """Per-customer value from the covariate models: ``p_alive``, ``expected_purchases``
    (undiscounted, over ``horizon`` time units), ``expected_spend`` (per purchase) and
    ``clv`` = margin x expected spend x discounted expected purchases, purchases in unit
    k discounted by (1 + ``discount_rate``)^-k (as :func:`clm_lib.clv.valuation.customer_value`).

    Each customer's own parameters depend on her covariates, so the expectations are
    computed once per distinct (frequency, recency, T, covariates) and joined back."""
    from clm_lib.clv.valuation import spend_frame

    z = list(dict.fromkeys(design["purchase"] + design["dropout"]))
    hist = data[["frequency", "recency", "T"] + z].astype(float)
    key = hist.columns.tolist()
    u = hist.drop_duplicates().reset_index(drop=True)
    codes = hist.merge(u.reset_index(), on=key, how="left")["index"].to_numpy()
    cum = np.zeros(len(u))
    det = np.zeros(len(u))
    for k in range(1, int(horizon) + 1):
        now = np.asarray(model.conditional_expected_purchases(float(k), u), float)
        det += (now - cum) / (1.0 + discount_rate) ** k
        cum = now
    alive = np.asarray(model.p_alive(u), float)
    spend = spend_frame(data)
    spend.index = data.index
    if design["spend"]:
        spend = spend.join(data[list(design["spend"])])
    e_spend = np.asarray(spend_model.conditional_expected_spend(spend), float)
    return pd.DataFrame({"p_alive": alive[codes], "expected_purchases": cum[codes],
                         "expected_spend": e_spend,
                         "clv": margin * e_spend * det[codes]}, index=data.index)


def _try(fit, errors: dict, key: str):
    try:
        return fit()
    except (InsufficientDataError, ConvergenceError) as exc:
        errors[key] = str(getattr(exc, "reason", exc))
        return None


def covariate_fits(eng, transactions, cal: pd.DataFrame, full: pd.DataFrame, *, model_key: str,
                   model_cls, spec: dict, as_of, customers=None, columns=None,
                   level: float = 0.95, max_levels: int = MAX_LEVELS, horizon: int | None = None,
                   discount_rate: float = 0.0, margin: float = 1.0,
                   spend_model=None) -> CovariateFits:
    """Fit the purchase model ``model_cls`` (the one that values customers) and the
    Gamma-Gamma with and without the covariates of ``spec`` (:func:`covariate_spec`).

    Parameters
    ----------
    eng : Engine
    transactions : Ibis table
        Canonical transactions with the covariate columns not in the customer table.
    cal, full : DataFrame
        Per-customer summaries (``frequency``, ``recency``, ``T``, ``monetary_value``,
        ``spend_frequency``; ``cal`` with the holdout columns), indexed by ``customer_id``.
    model_key, model_cls
        The purchase model's key (in :data:`clm_lib.studies.clv.compute.MODELS`) and class.
    customers : path or DataFrame, optional
        The customer table (:func:`read_customers`).
    level : float
        Level of the effects' intervals.
    horizon, discount_rate, margin
        With ``horizon`` (time units), every customer with the covariates is also valued
        by the covariate models (:func:`covariate_values`; ``discount_rate`` per unit);
        ``spend_model`` is the Gamma-Gamma to use when no spend covariate is given.
    """
    from clm_lib.studies.clv.compute import holdout_errors

    _check(full, ["frequency", "recency", "T", "monetary_value"], "CLV summary")
    table = read_customers(customers, columns) if customers is not None else None
    names = tuple(dict.fromkeys(c for p in PROCESSES for c in spec[p]))
    raw, record = customer_attributes(eng, transactions, names, as_of=as_of,
                                      customer_ids=full.index, customers=table)
    x, terms = encode_covariates(raw, max_levels=max_levels)
    design = {p: _design_names(terms, spec[p]) for p in PROCESSES}
    f = full.copy()
    f.index = f.index.astype("string")
    f = f.loc[x.index].join(x)
    c = cal.copy()
    c.index = c.index.astype("string")
    c = c.join(x, how="inner")
    errors, purchase, spend, lrt, aic, holdout = {}, {}, {}, {}, {}, {}
    if design["purchase"] or design["dropout"]:
        for key, wc in (("with", True), ("without", False)):
            m = _try(lambda: _fit_purchase(model_cls, f, design, with_covariates=wc),
                     errors, f"purchase_{key}")
            if m is not None:
                purchase[key] = m
                aic[f"purchase_{key}"] = float(m.AIC_)
            mc = _try(lambda: _fit_purchase(model_cls, c, design, with_covariates=wc),
                      errors, f"calibration_{key}")
            if mc is not None:
                holdout[key] = holdout_errors(mc, c)
        if len(purchase) == 2:
            lrt["purchase"] = dict(purchase["with"].likelihood_ratio_test(purchase["without"]))
    if design["spend"]:
        for key, wc in (("with", True), ("without", False)):
            m = _try(lambda: _fit_spend(f, design, with_covariates=wc), errors, f"spend_{key}")
            if m is not None:
                spend[key] = m
                aic[f"spend_{key}"] = float(m.AIC_)
        if len(spend) == 2:
            lrt["spend"] = dict(spend["with"].likelihood_ratio_test(spend["without"]))
    parts = [m["with"].effects(level=level) for m in (purchase, spend) if "with" in m]
    effects = pd.concat(parts, ignore_index=True) if parts else None
    values = None
    spend_value_model = spend.get("with") if design["spend"] else spend_model
    if horizon is not None and "with" in purchase and spend_value_model is not None:
        values = covariate_values(purchase["with"], spend_value_model, f, design,
                                  horizon=horizon, discount_rate=discount_rate, margin=margin)
    return CovariateFits(spec=dict(spec), design=design, terms=terms, record=record,
                         model=model_key, purchase=purchase, spend=spend, lrt=lrt, aic=aic,
                         holdout=holdout, effects=effects, level=float(level), errors=errors,
                         values=values)
