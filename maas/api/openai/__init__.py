"""The OpenAI-compatible `/v1` surface (protocol in `maas.protocol`, one router per endpoint)."""
