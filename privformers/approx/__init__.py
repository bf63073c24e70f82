"""approx."""
