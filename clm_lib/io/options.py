"""The options of reading a file and of the data contracts, as a study passes them on.

A study takes the reading options ``date_format``, ``encoding`` and ``delimiter`` and one
mapping ``contract`` of contract options (the same names in every study and config file);
:func:`load_options` turns them into the keyword arguments of the loader of one kind of
input (:func:`clm_lib.io.load_transactions`, ``load_subscriptions``, ``load_leads`` and
the :class:`~clm_lib.reduce.Engine` methods of the same names). Options left at None are
not passed, so the loader's own defaults apply; a contract option that belongs to another
kind of input (``cancellation_prefix`` for subscriptions, say) is not passed either, since
one config file may feed studies of both kinds.
"""
from __future__ import annotations

from collections.abc import Mapping

from clm_lib.exceptions import ParameterError

__all__ = ["CONTRACT_OPTIONS", "READ_OPTIONS", "load_options"]

#: Options of reading a file, taken by every loader.
READ_OPTIONS = ("date_format", "encoding", "delimiter")

#: Contract options by the kind of input that takes them.
CONTRACT_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "transactions": ("negative_amounts", "cancellation_prefix", "max_amount", "earliest_date",
                     "id_numbers"),
    "subscriptions": ("earliest_date", "id_numbers", "max_tenure"),
    "leads": ("earliest_date", "id_numbers"),
}


def load_options(kind: str, *, date_format: str | None = None, encoding: str | None = None,
                 delimiter: str | None = None, contract: Mapping | None = None) -> dict:
    """Keyword arguments for the loader of ``kind``.

    Parameters
    ----------
    kind : {"transactions", "subscriptions", "leads"}
    date_format, encoding, delimiter : str, optional
        Reading options (None: the loader's default).
    contract : mapping, optional
        Contract options, e.g. ``{"cancellation_prefix": "C", "max_amount": 1e6}``; the
        names are those of :data:`CONTRACT_OPTIONS` (any kind).

    Raises
    ------
    ParameterError
        Naming a contract option that no loader takes.

    Examples
    --------
    >>> load_options("subscriptions", encoding="latin-1",
    ...              contract={"cancellation_prefix": "C", "max_tenure": 1200})
    {'encoding': 'latin-1', 'max_tenure': 1200}
    """
    if kind not in CONTRACT_OPTIONS:
        raise ParameterError(f"kind must be one of {tuple(CONTRACT_OPTIONS)}, not {kind!r}")
    contract = dict(contract or {})
    known = {n for names in CONTRACT_OPTIONS.values() for n in names}
    unknown = sorted(set(contract) - known)
    if unknown:
        raise ParameterError(f"contract: unknown option(s) {unknown}; the options are "
                             f"{sorted(known)}")
    out = {k: v for k, v in (("date_format", date_format), ("encoding", encoding),
                             ("delimiter", delimiter)) if v is not None}
    out.update({k: v for k, v in contract.items()
                if k in CONTRACT_OPTIONS[kind] and v is not None})
    return out
