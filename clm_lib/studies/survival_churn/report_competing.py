"""Wording, table and ``metrics.json`` entry of the competing churn reasons
(:mod:`.competing`); every number is read from the result."""
from __future__ import annotations

from clm_lib import format as fmt
from clm_lib.reporting import omit_section, show_note, show_table
from clm_lib.studies.survival_churn.wording import _fmt_period

__all__ = ["NO_REASON", "competing_lines", "cause_hr_table", "show_competing",
           "competing_json"]

#: Why the section is left out when the data carry no churn reason.
NO_REASON = ("no churn reason in the data: competing risks not estimated (map a reason "
             "column to get them: the `reason` parameter)")


def competing_lines(result) -> list[str]:
    """Incidence per reason at each horizon, the cause-specific hazard ratios, and why
    1 - Kaplan-Meier overstates one reason's incidence."""
    c, unit = result.competing, result.time_unit
    inc = c["incidence"]
    lines = []
    for name in c["reasons"]:
        g = inc[inc["reason"] == name]
        parts = [f"{fmt.percent(r['incidence'], 1)} by {_fmt_period(r['time'], unit)}"
                 for _, r in g.iterrows()]
        lines.append(f"Churned for reason {name}: {', '.join(parts)} (Aalen-Johansen "
                     "cumulative incidence, every customer).")
    last = inc[inc["time"] == inc["time"].max()]
    worst = last.assign(gap=last["one_minus_km"] - last["incidence"]).sort_values("gap").iloc[-1]
    lines.append(f"1 − Kaplan-Meier with the other reasons censored would put reason "
                 f"{worst['reason']} at {fmt.percent(worst['one_minus_km'], 1)} by "
                 f"{_fmt_period(worst['time'], unit)} instead of "
                 f"{fmt.percent(worst['incidence'], 1)}: it treats customers who left for "
                 "another reason as if they could still leave for this one, so it overstates "
                 "the incidence of one reason when others compete.")
    hr = c["hazard_ratios"]
    for name in c["reasons"]:
        g = hr[hr["reason"] == name]
        if g.empty:
            continue
        parts = [f"{r['covariate']} {fmt.ratio(r['hr'])}x (95 % interval "
                 f"{fmt.ratio(r['ci_low'])} to {fmt.ratio(r['ci_high'])})"
                 for _, r in g.iterrows()]
        lines.append(f"Cause-specific hazard ratios for reason {name} (Cox, customers who "
                     f"left for another reason censored then): {'; '.join(parts)}.")
    return lines


def cause_hr_table(result) -> dict:
    """Cause-specific hazard ratios (``show_table`` arguments)."""
    return dict(df=result.competing["hazard_ratios"], index=False,
                caption="Cause-specific hazard ratios (95 % intervals)",
                formats={"coef": ("number", 3), "se": ("number", 3), "hr": ("number", 2),
                         "ci_low": ("number", 2), "ci_high": ("number", 2), "p": "p_value",
                         "events": "count"},
                rename={"reason": "Reason", "covariate": "Covariate", "coef": "Coefficient",
                        "se": "Standard error", "hr": "Hazard ratio", "ci_low": "95 % low",
                        "ci_high": "95 % high", "p": "p", "events": "Churns for the reason"})


def show_competing(result) -> None:
    """The section's content, or its omission with :data:`NO_REASON`."""
    if result.competing is None:
        omit_section(NO_REASON)
        return
    if not result.competing["hazard_ratios"].empty:
        show_table(**cause_hr_table(result))
    show_note(*competing_lines(result))


def competing_json(result) -> dict:
    """``competing_risks`` of metrics.json: ``estimated`` and, when not, ``why``; else
    ``column``, ``reasons``, ``incidence`` and ``hazard_ratios`` (records; horizons in
    periods)."""
    c = result.competing
    if c is None:
        return {"estimated": False, "why": NO_REASON}
    return {"estimated": True, "column": c["column"], "reasons": list(c["reasons"]),
            "incidence": c["incidence"].to_dict(orient="records"),
            "hazard_ratios": c["hazard_ratios"].to_dict(orient="records")}
