"""Pure valuation on fitted models: fitting helpers, discounted expected purchases,
customer value. (Placeholder re-exports: the CLV study's code moves here.)"""
from clm_lib.studies.clv.compute import (  # noqa: F401
    _spend_frame as spend_frame,
    customer_value,
    discounted_expected_purchases,
    fit_or_reason,
    fit_purchase_model,
    fit_spend_model,
)
