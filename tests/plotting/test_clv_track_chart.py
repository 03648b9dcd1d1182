"""The track-record chart draws what the track record holds."""
from clm_lib.plotting.clv import chart_track_record

ENTRIES = [
    {"name": "purchases", "as_of": "1998-03-31", "window": ["1998-03-31", "1998-06-30"],
     "predicted": 6410.8, "actual": 5664.0, "lower": 6276.9, "upper": 6568.2, "error": 0.132},
    {"name": "value", "as_of": "1998-03-31", "window": ["1998-03-31", "1998-06-30"],
     "predicted": 75035.0, "actual": 63999.0, "lower": None, "upper": None, "error": 0.172},
]


def test_one_interval_forecast_and_actual_per_earlier_run():
    spec = chart_track_record(ENTRIES).to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["bar", "tick", "point"]
    data = next(iter(spec["datasets"].values()))
    assert [(d["as_of"], d["lower"], d["upper"], d["actual"]) for d in data] == [
        ("1998-03-31", 6276.9, 6568.2, 5664.0)]  # only the purchases forecast
    # a forecast without an interval is drawn at its point
    value = chart_track_record(ENTRIES, name="value").to_dict()
    row = next(iter(value["datasets"].values()))[0]
    assert row["lower"] == row["upper"] == 75035.0
    assert chart_track_record(ENTRIES, name="churn") is None
