"""Customer-base models: one model per file, a shared maximum-likelihood base class.

Non-contractual (purchases at any time): BG/NBD, Pareto/NBD, MBG/NBD, with the
Gamma-Gamma spend model; discrete opportunities: BG/BB; contractual retention: sBG.
:mod:`clm_lib.clv.valuation` turns fitted models into discounted customer value.
"""
from clm_lib.clv.base import MLEModel
from clm_lib.clv.bgbb import BetaGeoBetaBinomModel
from clm_lib.clv.bgnbd import BetaGeoModel
from clm_lib.clv.gamma_gamma import GammaGammaModel
from clm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from clm_lib.clv.pareto_nbd import ParetoNBDModel
from clm_lib.clv.sbg import ShiftedBetaGeometric

__all__ = [
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "GammaGammaModel",
    "MLEModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "ShiftedBetaGeometric",
]
