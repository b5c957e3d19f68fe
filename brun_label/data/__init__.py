"""brun-label data."""
