"""brun-label importers."""
