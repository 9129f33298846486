"""The industrial toolbox's tenant-facing services, built once per gateway."""

from __future__ import annotations

from dataclasses import dataclass

from maas.db.database import Database
from maas.toolbox.assessments import Assessments
from maas.toolbox.library import ThingModelLibrary
from maas.toolbox.parsers import ParserBuilds


@dataclass
class Toolbox:
    thing_models: ThingModelLibrary
    parsers: ParserBuilds
    assessments: Assessments

    @classmethod
    def build(cls, db: Database, parser_concurrency: int = 2) -> Toolbox:
        return cls(ThingModelLibrary(db), ParserBuilds(db, parser_concurrency),
                   Assessments(db))
