"""brun-label cli."""
