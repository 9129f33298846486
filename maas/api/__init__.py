"""HTTP edge: the OpenAI-compatible `/v1` surface, the admin API and health/metrics."""
