"""Compare two assessments of one questionnaire: what moved, by how much, and the level.

Deltas are exact (`Decimal` differences of two-decimal scores), `b - a`: run it with the
older assessment first to read progress.
"""

from __future__ import annotations

from decimal import Decimal

from maas.errors import InvalidRequest
from maas.toolbox.diagnosis.assessment import Assessment, Comparison, Delta
from maas.toolbox.diagnosis.common import Text, fmt2


def compare_assessments(a: Assessment, b: Assessment) -> Comparison:
    """How `b` differs from `a`. Both must answer the same questionnaire."""
    if a.questionnaire_id != b.questionnaire_id:
        raise InvalidRequest(f"cannot compare an assessment of {a.questionnaire_id!r} with one "
                             f"of {b.questionnaire_id!r}: only one questionnaire's assessments "
                             "are comparable", param="b")
    dims = [_delta(d.id, d.name, d.score, other.score)
            for d in a.dimensions if (other := b.dimension(d.id)) is not None]
    inds = [_delta(i.id, i.name, i.score, other.score)
            for i in a.indicators if (other := b.indicator(i.id)) is not None]
    improved = sorted((d for d in inds if d.delta > 0), key=lambda d: (-d.delta, d.id))
    regressed = sorted((d for d in inds if d.delta < 0), key=lambda d: (d.delta, d.id))
    total_delta = b.total - a.total
    change = b.level - a.level
    sign = "+" if total_delta >= 0 else ""
    summary = Text(
        zh=f"综合得分 {fmt2(a.total)} → {fmt2(b.total)}（{sign}{fmt2(total_delta)}），"
           f"级别 {a.level_name.zh} → {b.level_name.zh}；{len(improved)} 项指标提升，"
           f"{len(regressed)} 项下降。",
        en=f"Total {fmt2(a.total)} -> {fmt2(b.total)} ({sign}{fmt2(total_delta)}), level "
           f"{a.level_name.en} -> {b.level_name.en}; {len(improved)} indicators improved, "
           f"{len(regressed)} regressed.")
    return Comparison(
        questionnaire_id=a.questionnaire_id, total_before=a.total, total_after=b.total,
        total_delta=total_delta, level_before=a.level, level_after=b.level,
        level_change=change, dimensions=dims, improved=improved, regressed=regressed,
        unchanged=[d.id for d in inds if d.delta == 0], summary=summary)


def _delta(item_id: str, name: Text, before: Decimal, after: Decimal) -> Delta:
    return Delta(id=item_id, name=name, before=before, after=after, delta=after - before)
