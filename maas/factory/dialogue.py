"""One turn of the requirements conversation: message in, new spec and a reply out.

The reply says what changed (as a spec diff), what was not understood, and asks the next
clarifying question, in the conversation's language, until the spec is complete; then it
asks the user to confirm.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from maas.errors import InvalidRequest
from maas.factory.diff import diff_specs, format_spec_diff
from maas.factory.intents import read_message
from maas.factory.naming import CJK
from maas.factory.spec import Spec, parse_spec


@dataclass
class Turn:
    spec: Spec
    reply: str
    changes: list[str]
    questions: list[str]
    not_understood: list[str] = field(default_factory=list)
    confirm: bool = False


def empty_spec(language: str = "en") -> Spec:
    return Spec(language="zh" if language == "zh" else "en")


def questions_for(spec: Spec) -> list[str]:
    zh = spec.language == "zh"
    out: list[str] = []
    if not spec.entities:
        out.append("请描述您需要的系统，例如：“我需要一个设备巡检系统：设备、巡检计划、巡检记录（含缺陷和照片）、逾期报表”。"
                   if zh else "What system do you need? For example: \"I need an equipment "
                   "inspection system: devices, inspection plans, inspection records with "
                   "defects and photos, overdue report\".")
    for e in spec.entities:
        if not e.fields:
            out.append(f"“{e.label}”需要记录哪些信息？例如：“{e.label}：名称（必填）、编号（唯一）、日期（日期）、状态（待处理/已完成）”。"
                       if zh else f"What does {_a(e.label)} record? For example: \"{e.label}: "
                       "name (required), code (unique), date (date), status (open/closed)\".")
    for r in spec.reports:
        if not r.entity or not r.where:
            out.append(f"“{r.label}”报表列出哪些记录、条件是什么？例如：“{r.label}报表：下次日期早于今天的计划”。"
                       if zh else f"Which records does the {r.label} report list, and when? "
                       f"For example: \"{r.label} report: plans whose next date is before today\".")
    if spec.entities and not spec.roles:
        out.append("有哪些角色，各自能做什么？例如：“角色：管理员可以做所有事；巡检员可以查看设备，新建和修改巡检记录”。"
                   if zh else "Who uses it, and what may each role do? For example: \"Roles: "
                   "admin can do everything; inspector can read devices and create inspection "
                   "records\".")
    return out


def take_turn(spec: Spec, message: str) -> Turn:
    """Read `message` into a copy of `spec`; the old spec is untouched if it fails."""
    message = message.strip()
    if not message:
        raise InvalidRequest("the message is empty", param="content")
    draft: dict[str, Any] = copy.deepcopy(spec.model_dump(mode="json"))
    if not draft["entities"] and not draft["title"] and CJK.search(message):
        draft["language"] = "zh"
    reading = read_message(draft, message)
    try:
        new = parse_spec(draft)
    except InvalidRequest as exc:
        zh = draft["language"] == "zh"
        return Turn(spec=spec, reply=("这条消息会使需求不成立：" if zh else
                                      "That would make the spec invalid: ") + exc.message,
                    changes=[], questions=questions_for(spec), not_understood=[message])
    changes = format_spec_diff(diff_specs(spec, new))
    questions = questions_for(new)
    return Turn(spec=new, reply=_reply(new, changes, reading.not_understood, questions,
                                       reading.confirm),
                changes=changes, questions=questions, not_understood=reading.not_understood,
                confirm=reading.confirm)


def _reply(spec: Spec, changes: list[str], unclear: list[str], questions: list[str],
           confirm: bool) -> str:
    zh = spec.language == "zh"
    lines: list[str] = []
    if changes:
        lines.append("需求已更新：" if zh else "Spec updated:")
        lines += [f"  {c}" for c in changes]
    if unclear:
        lines.append("以下内容没有理解，请换一种说法：" if zh else
                     "I did not understand these; please rephrase:")
        lines += [f"  - {u}" for u in unclear]
    if questions:
        lines.append(questions[0])
    elif not confirm:
        lines.append("需求已完整。回复“确认”以确认，或继续提出修改。" if zh else
                     "The spec is complete. Reply \"confirm\" to confirm it, or ask for changes.")
    return "\n".join(lines)


def _a(label: str) -> str:
    return f"{'an' if label[:1].lower() in 'aeiou' else 'a'} {label}"
