"""The data-quality record: counting, the invariant, serialisation, HTML escaping."""
from __future__ import annotations

import json

import pytest

from clm_lib.io.quality import DataQuality


def test_drop_and_warn_accumulate_and_ignore_zero():
    dq = DataQuality(source="t.csv", rows_in=10, rows_used=6)
    dq.drop("missing amount", 3)
    dq.drop("missing amount", 1)
    dq.drop("never happened", 0)
    dq.warn("zero amount", 2)
    dq.warn("nothing", 0)
    assert dq.dropped == {"missing amount": 4}
    assert dq.warnings == {"zero amount": 2}
    assert dq.n_dropped == 4
    assert dq.check() is dq


def test_check_catches_lost_rows():
    dq = DataQuality(source="t.csv", rows_in=10, rows_used=6)
    dq.drop("missing amount", 3)
    with pytest.raises(AssertionError, match="invariant"):
        dq.check()


def test_to_dict_is_json_ready():
    dq = DataQuality(source="t.csv", rows_in=3, rows_used=2, notes=["policy"])
    dq.drop("missing customer_id", 1)
    d = dq.to_dict()
    assert json.loads(json.dumps(d)) == {
        "source": "t.csv", "rows_in": 3, "rows_used": 2,
        "dropped": {"missing customer_id": 1}, "warnings": {}, "notes": ["policy"],
    }


def test_to_frame_and_html_escape():
    dq = DataQuality(source="<script>", rows_in=2, rows_used=1, notes=["a < b & c"])
    dq.drop("bad <b>row</b>", 1)
    dq.warn("kept", 1)
    frame = dq.to_frame()
    assert frame["kind"].tolist() == ["read", "used", "dropped", "kept, with a warning"]
    assert frame["rows"].tolist() == [2, 1, 1, 1]
    html = dq._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>row</b>" not in html
    assert "a &lt; b &amp; c" in html
