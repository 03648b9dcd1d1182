"""Shared tiny hand-made frames (answers computable by hand)."""
from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture
def tiny_transactions() -> pd.DataFrame:
    """Five clean purchases by three customers; ids are zero-padded text."""
    return pd.DataFrame({
        "customer_id": ["00123", "00123", "007", "00123", "42"],
        "timestamp": ["2020-01-05", "2020-01-01", "2020-02-01", "2020-03-01", "2020-01-10"],
        "amount": ["10.0", "5.5", "20", "0", "7.25"],
    })


@pytest.fixture
def tiny_intervals() -> pd.DataFrame:
    """Three subscriptions in interval form; one still active (empty end)."""
    return pd.DataFrame({
        "customer_id": ["a", "b", "c"],
        "start": ["2020-01-01", "2020-01-01", "2020-03-01"],
        "end": ["2020-01-31", "", "2020-03-08"],
    })


@pytest.fixture
def tiny_snapshot() -> pd.DataFrame:
    """Four subscribers in snapshot form (tenure in months, churn flag as text)."""
    return pd.DataFrame({
        "customer_id": ["0001", "0002", "0003", "0004"],
        "tenure": ["1", "12", "0", "30"],
        "churned": ["Yes", "no", "No", "YES"],
    })


@pytest.fixture(scope="session")
def spark():
    """The Spark engine on one local[2] session per test process (started on first use;
    a session takes seconds to start). Skipped when Java is absent; pyspark and Ibis are
    declared dependencies, so their absence fails."""
    from clm_lib.engines import get_engine, java_available, local_spark_session

    if not java_available():
        pytest.skip("Spark needs Java")
    session = local_spark_session("local[2]", app_name="clm-tests", shuffle_partitions=2)
    session.sparkContext.setLogLevel("ERROR")
    yield get_engine("spark", spark=session)
    session.stop()


@pytest.fixture(scope="module", params=["duckdb", "spark"])
def engine(request):
    """Each Ibis engine in turn: DuckDB, then Spark (see :func:`spark`)."""
    from clm_lib.engines import get_engine

    if request.param == "duckdb":
        return get_engine("duckdb")
    return request.getfixturevalue("spark")
