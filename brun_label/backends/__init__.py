"""brun-label backends."""
