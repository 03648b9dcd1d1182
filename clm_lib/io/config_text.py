"""The commented YAML config that ``clm init`` writes from what :func:`sniff_file` found.

The keys are the reading parameters every study takes (``transactions``,
``subscriptions``, ``leads``, ``columns``, ``date_format``, ``encoding``, ``delimiter``,
``contract``) and ``studies``, the studies the file can feed; ``clm validate --config``
and ``clm run --config`` read the same file. Everything written live is what the loaders
accept today; what needs a decision (a contract option, an ambiguous day/month order) is
written as a comment.
"""
from __future__ import annotations

import json
import textwrap

from clm_lib.io.sniff import Sniffed, show_encoding

__all__ = ["STUDIES_BY_KIND", "config_yaml"]

#: The studies a file of each kind can feed (leads: with transactions as well).
STUDIES_BY_KIND = {
    "transactions": ("overview", "cohort_retention", "clv", "lifecycle_segments",
                     "survival_churn"),
    "subscriptions": ("survival_churn", "cohort_retention"),
    "leads": ("lifecycle_segments",),
}
_WHAT = {
    "transactions": "overview, cohort_retention, clv, lifecycle_segments, and survival_churn "
                    "by inactivity (a customer who has not bought for inactivity_days has "
                    "churned)",
    "subscriptions": "survival_churn and cohort_retention",
    "leads": "lifecycle_segments through its `leads` parameter (it needs transactions too: "
             "add `transactions: FILE` and its columns)",
}
_CONTRACT = {
    "transactions": [("negative_amounts", "drop", "drop | net | error: returns and "
                                                  "cancellations"),
                     ("cancellation_prefix", None, "order ids starting with it are "
                                                   "cancellations, e.g. \"C\""),
                     ("max_amount", None, "|amount| above it is dropped as implausible"),
                     ("earliest_date", None, "rows dated earlier are dropped"),
                     ("id_numbers", None, "warn | merge | error: ids such as 1 and 1.0")],
    "subscriptions": [("earliest_date", None, "starts earlier are dropped"),
                      ("id_numbers", None, "warn | merge | error: ids such as 1 and 1.0"),
                      ("max_tenure", None, "tenures above it are dropped as implausible")],
    "leads": [("earliest_date", None, "leads created earlier are dropped"),
              ("id_numbers", None, "warn | merge | error: ids such as 1 and 1.0")],
}


def _q(value) -> str:
    """A YAML scalar: JSON's double-quoted strings are YAML's, so any text is safe."""
    return json.dumps(value, ensure_ascii=False)


def _line(text: str, comment: str, width: int = 40) -> str:
    return f"{text:<{max(width, len(text) + 2)}}# {comment}" if comment else text


def config_yaml(s: Sniffed, source: str, config_name: str = "CONFIG.yml") -> str:
    """The config text for the sniffed file ``s``.

    Parameters
    ----------
    s : Sniffed
        From :func:`clm_lib.io.sniff.sniff_file`.
    source : str
        The file's path as the config should hold it (relative to the config's folder,
        or absolute).
    config_name : str
        The config's file name, quoted in the ``clm run`` line.

    Returns
    -------
    str
        YAML with comments; ``yaml.safe_load`` of it gives ``studies``, the kind's key,
        ``columns`` and the reading options that differ from the defaults.
    """
    studies = STUDIES_BY_KIND[s.kind]
    out = [
        f"# clm config for {s.path}, written by `clm init` from its header and "
        f"{s.rows_sampled:,} sampled rows.",
        *textwrap.wrap(f"Read as {s.kind}; the file can feed {_WHAT[s.kind]}.", 88,
                       initial_indent="# ", subsequent_indent="# "),
        "# Check the guesses below, then:",
        f"#   clm validate --config {config_name}",
        f"#   clm run --config {config_name}",
        f"studies: [{', '.join(studies)}]",
        "",
        _line(f"{s.kind}: {_q(source)}", "paths are relative to this file's folder"),
        "columns:" if s.mapping else "columns: {}",
    ]
    if s.mapping:
        out[-1] = _line("columns:", "source column -> canonical name")
    for src, canon in s.mapping.items():
        out.append(f"  {_q(src)}: {canon}")
    if s.unmapped:
        out.append("# not mapped (kept as they are, e.g. for segments or covariates): "
                   + ", ".join(s.unmapped))
    if s.date_format:
        out.append(_line(f"date_format: {_q(s.date_format)}", "strptime format of the dates"))
    else:
        out.append("# date_format: none needed (ISO 8601 dates)" if not any(
            "date" in n for n in s.notes) else "# date_format: see the notes below")
    if s.path.lower().endswith((".parquet", ".pq")):
        out.append("# contract:                             # options of the data contract; "
                   "uncomment to set")
        return "\n".join(out + _contract_lines(s) + [f"# note: {n}" for n in s.notes]) + "\n"
    enc = show_encoding(s.encoding)
    if s.encoding != "utf-8":
        out.append(_line(f"encoding: {_q(enc)}", "the bytes are not UTF-8"))
    else:
        out.append("# encoding: utf-8 (the default)")
    shown = "\\t" if s.delimiter == "\t" else s.delimiter
    if s.delimiter != s.default_delimiter:
        out.append(_line(f"delimiter: {_q(s.delimiter)}", "fields are separated by "
                         f"{shown!r}"))
    else:
        out.append(f"# delimiter: {_q(s.delimiter)} (the default for this file name)")
    out.append("# contract:                             # options of the data contract; "
               "uncomment to set")
    out += _contract_lines(s)
    for note in s.notes:
        out.append(f"# note: {note}")
    return "\n".join(out) + "\n"


def _contract_lines(s: Sniffed) -> list[str]:
    """The commented options of the kind's contract, with the sample's suggestions."""
    out = []
    for name, default, what in _CONTRACT[s.kind]:
        value = s.contract.get(name, default)
        note = what
        if name in s.contract:
            note = f"suggested: {what} (the sample has such ids with negative values)"
        shown_value = _q(value) if value is not None else "..."
        out.append(_line(f"#   {name}: {shown_value}", note))
    return out
