"""The lifecycle segments study (notebook `notebooks/*_lifecycle_segments.ipynb`)."""
