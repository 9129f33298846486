"""Limits: what a plan or key may use (policy) and the gateway's enforcement of it (ratelimit)."""
