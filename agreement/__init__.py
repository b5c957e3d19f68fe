"""brun-label agreement."""
