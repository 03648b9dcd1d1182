"""The cohort retention study (notebook `notebooks/*_cohort_retention.ipynb`)."""
