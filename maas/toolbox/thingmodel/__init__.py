"""Thing-model generator: device text or datasheet -> platform thing model -> Alibaba TSL / W3C WoT.

Deterministic code (table/prose extraction, normalisation, JSON Schema validation) carries
correctness; a language model, when given, only adds language on top (see `generate`).
"""
