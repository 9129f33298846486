"""Engines: every engine is an OpenAI-compatible HTTP server; this layer chooses one per
model, supervises local workers, and routes and proxies requests to them."""
