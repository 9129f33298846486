"""Industry MaaS: a self-hostable, multi-tenant Model-as-a-Service platform."""

__version__ = "0.1.0"
