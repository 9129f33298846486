"""Tenancy: tenants, API keys and the principal every request runs as."""
