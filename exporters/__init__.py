"""brun-label exporters."""
