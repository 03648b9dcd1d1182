"""The survival churn study (notebook `notebooks/*_survival_churn.ipynb`)."""
