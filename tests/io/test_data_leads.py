"""Leads loading: every drop reason counted, errors named, nothing lost silently."""
import pandas as pd
import pytest

from clm_lib.io import load_leads, validate_file
from clm_lib.exceptions import DataContractError, MissingColumnsError


def _leads(**overrides):
    base = {
        "lead_id": ["1", "2", "3", "4", "5", "5", "6", None, "8", "9"],
        "created": ["2020-01-01", "2020-01-01", "2020-01-05", "2020-02-10", "2020-01-02",
                    "2020-01-02", "not a date", "2020-01-01", "2020-01-03", "2020-01-04"],
        "source": ["A", "A", "B", "B", None, None, "A", "A", "B", "B"],
        "converted": ["2020-01-11", None, "2020-01-15", "2020-02-12", "2020-03-01",
                      "2020-03-01", None, None, "2019-12-01", "31/01/2020"],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_every_drop_reason_is_counted_and_rows_add_up():
    out, dq = load_leads(_leads(), as_of="2020-01-31")
    assert dq.dropped == {
        "missing lead_id": 1,
        "unparseable created": 1,
        "unparseable converted": 1,
        "created after as_of": 1,
        "converted before created": 1,
        "duplicate lead row": 1,
    }
    assert dq.rows_in == 10 == dq.rows_used + sum(dq.dropped.values())
    assert out["lead_id"].tolist() == ["1", "2", "5", "3"]
    # a conversion after as_of is not a conversion yet, and it is said so
    assert dq.warnings == {"converted after as_of (treated as not converted yet)": 1}
    assert out.set_index("lead_id").loc["5", "converted"] is pd.NaT
    assert out.set_index("lead_id").loc["5", "source"] == "(unknown)"


def test_conflicting_lead_ids_are_an_error_without_raw_values():
    leads = _leads(source=["A", "A", "B", "B", "X-secret", "Y-secret", "A", "A", "B", "B"])
    with pytest.raises(DataContractError, match="lead_id.*2 rows") as err:
        load_leads(leads, as_of="2020-01-31")
    assert "secret" not in str(err.value)


def test_missing_columns_and_mapping_are_named(tmp_path):
    with pytest.raises(MissingColumnsError, match="converted"):
        load_leads(_leads().drop(columns="converted"))
    path = tmp_path / "leads.csv"
    _leads().rename(columns={"created": "created_at"}).to_csv(path, index=False)
    dq = validate_file(path, kind="leads", columns={"created_at": "created"}, as_of="2020-01-31")
    assert dq.rows_in == 10 and dq.rows_used == 4
