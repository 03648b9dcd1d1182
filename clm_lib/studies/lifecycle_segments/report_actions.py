"""The action sentences of the lifecycle report (re-exported by :mod:`.report`): each
action in words, the playbook per segment, the action value and who gets which action."""
from __future__ import annotations

from clm_lib.studies.clv.report import not_fitted_note
from clm_lib.studies.lifecycle_segments.rfm import ACTIVE_SEGMENTS, QUIET_P_ALIVE, SEGMENT_ACTIONS

__all__ = ["ACTION_TEXT", "PLAYBOOK", "action_value_note", "quiet_customers_note"]

#: Each recommended action in words (:data:`~.rfm.ACTIONS`).
ACTION_TEXT = {
    "personal outreach": "Personal outreach: call or tailored offer; find out why they stopped.",
    "win-back offer": "Win back: personalised reminder and a time-limited offer.",
    "reward": "Reward and involve: early access, referral programme, no discounts needed.",
    "keep close": "Keep them close: loyalty benefits, cross-sell, ask for reviews.",
    "build the habit": "Build the habit: membership offer, personalised recommendations.",
    "onboard": "Onboard: welcome series and an incentive for the second purchase.",
    "automated reminder": "Automated reminder (e-mail, app), no discount: expected value too "
                          "low for a call or an offer.",
    "low-cost reactivation": "Low-cost reactivation: relevant content, seasonal offers.",
    "suppress": "Do not spend: suppress from paid campaigns, keep in free channels only.",
}

#: Recommended action(s) per RFM segment in words: the segments whose action depends on the
#: customer's expected value name both (:data:`~.rfm.SEGMENT_ACTIONS`).
PLAYBOOK = {
    seg: (ACTION_TEXT[hi] if hi == lo else
          f"Expected value at or above the action value: {ACTION_TEXT[hi]} Below it: {ACTION_TEXT[lo]}")
    for seg, (hi, lo) in SEGMENT_ACTIONS.items()
}


def action_value_note(study, currency: str = "$") -> str:
    """The expected-value threshold of the costly actions, where it comes from, and what
    it means."""
    costly = "a personal call for 'can't lose', a win-back offer for 'at risk', 'hibernating' and 'lost'"
    if study.action_value is None:
        return (f"**Action value.** The costly actions ({costly}) are recommended only to "
                "customers whose expected value is known to be worth them; without customer "
                "values (" + not_fitted_note(study.model_errors).rstrip(".") + ") every customer gets the low-cost action.")
    src = (f"the parameter `action_value`" if study.action_value_source == "parameter" else
           f"the {study.action_value_quantile:.0%} quantile of the customers' expected values, "
           f"i.e. the top {1 - study.action_value_quantile:.0%}; set `action_value` to the cost "
           "of the action to use your own")
    return (f"**Action value.** The costly actions ({costly}) are recommended only to customers "
            f"whose expected value over the next {study.horizon} {study.time_unit}s is at least "
            f"{currency or ''}{study.action_value:,.2f} ({src}); below it they get the low-cost action "
            "of their segment. The table gives the expected value at stake per action."
            + quiet_customers_note(study))


def quiet_customers_note(study) -> str:
    """How many customers of the active segments get the actions of 'at risk' because the
    purchase model holds them more likely gone than not ("" for none)."""
    r = study.rfm
    quiet = r["segment"].astype(str).isin(ACTIVE_SEGMENTS) & r["action"].astype(str).isin(
        SEGMENT_ACTIONS["at risk"])
    n = int(quiet.sum())
    if not n:
        return ""
    return (f" {n:,} customer{'s' if n != 1 else ''} of the active segments "
            f"({', '.join(ACTIVE_SEGMENTS)}) {'have' if n != 1 else 'has'} P(alive) below "
            f"{QUIET_P_ALIVE:.0%}: silent for long by their own purchase rhythm though not yet by "
            "the stage thresholds, they get the actions of 'at risk' instead of their segment's.")
