"""Running the studies: discovery of the notebooks and their parameters, batch execution
with papermill, and the HTML reports and index."""
