"""Tables and plots generated from stored results only (never by re-running a model)."""
