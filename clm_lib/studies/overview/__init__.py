"""The overview study (notebook `notebooks/*_overview.ipynb`)."""
