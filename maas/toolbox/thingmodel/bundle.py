"""A thing model with both exports and what each schema says of them: the one shape every
surface (API, agent tool) hands out, so all of them validate the same way."""

from __future__ import annotations

from typing import Any

from maas.toolbox.thingmodel.schema import ThingModel
from maas.toolbox.thingmodel.tsl import to_tsl
from maas.toolbox.thingmodel.validate import validate_platform, validate_tsl, validate_wot
from maas.toolbox.thingmodel.wot import to_wot


def bundle(tm: ThingModel) -> dict[str, Any]:
    """`thing_model`, `tsl`, `wot`, and `validation` (problems per schema; empty lists when
    all three documents are valid)."""
    document, tsl, wot = tm.model_dump(mode="json"), to_tsl(tm), to_wot(tm)
    return {"thing_model": document, "tsl": tsl, "wot": wot,
            "validation": {"platform": validate_platform(document), "tsl": validate_tsl(tsl),
                           "wot": validate_wot(wot)}}
