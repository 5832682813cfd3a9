"""Reports: plots (matplotlib figures returned, never shown) and tables."""
