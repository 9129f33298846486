"""`GET /v1/tools`: what the industrial toolbox offers, with where each tool lives."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from maas.api.deps import principal
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/v1/tools", tags=["toolbox"])

TOOLS = [
    {"id": "thing_model", "title": {"zh": "物模型生成", "en": "Thing-model generation"},
     "description": "A device description or datasheet -> a validated thing model, exported "
                    "as Alibaba IoT TSL and W3C WoT Thing Description; versions and diffs.",
     "endpoints": ["/v1/tools/thing-models/generate", "/v1/tools/thing-models/generate/upload",
                   "/v1/tools/thing-models", "/v1/tools/units"],
     "app": "thing-model-designer"},
    {"id": "protocol_parser", "title": {"zh": "协议解析代码生成",
                                        "en": "Protocol-parser code generation"},
     "description": "A Modbus register map or binary frame spec -> a Python parser package "
                    "whose golden-frame tests passed in a sandbox.",
     "endpoints": ["/v1/tools/protocol-parsers", "/v1/tools/protocol-parsers/upload"],
     "app": "protocol-parser-generator"},
    {"id": "diagnosis", "title": {"zh": "数字化转型诊断", "en": "Transformation diagnosis"},
     "description": "A questionnaire -> deterministic scores and level -> a report (HTML, "
                    "DOCX) with a radar chart, actions and cited policies.",
     "endpoints": ["/v1/tools/diagnosis/questionnaires", "/v1/tools/diagnosis/assessments",
                   "/v1/tools/diagnosis/compare"],
     "app": "digital-level-assessment"},
]


@router.get("")
async def list_tools(who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"object": "list", "data": TOOLS}
