"""brun-label servers."""
