"""Console routes, one module per page group."""
