"""The clv study (notebook `notebooks/*_clv.ipynb`)."""
