"""What a requirement sentence asks for, and the edit it makes to the draft spec.

Each handler returns True when it recognised the sentence; `read_message` tries them in
order and reports sentences that none recognised.
"""

from __future__ import annotations

import re
from typing import Any

from maas.factory import vocabulary as V
from maas.factory.naming import CJK, identifier_for, singular_of, unique_name
from maas.factory.requirements import (
    Draft,
    Reading,
    add_entity,
    add_reference,
    entity_matches,
    find_entity,
    parse_field,
    set_fields,
    split_items,
    statements,
)
from maas.factory.spec import OPERATIONS

INTRO = re.compile(r"^(?:i|we)?\s*(?:need|want|would like)?\s*(?:an?|the)?\s*(.*?(?:system|app|"
                   r"application|platform|tool))\s*(?:[:：]|with|for|to manage)\s*(.+)$", re.I)
INTRO_ZH = re.compile(r"^(?:我们?|需要|想要|帮我|做|一个|一套|开发|建)*\s*"
                      r"(.*?(?:系统|应用|平台|软件))\s*[:：，,]\s*(?:包括|包含|管理|有)?\s*(.+)$")
REPORT_DEF = re.compile(r"^(?:the\s+)?(.+?)\s*(?:report|报表|报告)\s*[:：]\s*(.+)$", re.I)
BELONGS = re.compile(r"^(?:each|every|an?|the|每个|每条|每一个|每项|一个|一条)?\s*(.+?)\s*"
                     r"(?:belongs to|is for|is part of|属于|归属于|对应)\s*"
                     r"(?:an?|the|one|一个|一台|一条|某个)?\s*(.+)$", re.I)
HAS_MANY = re.compile(r"^(?:each|every|an?|the|每个|每台)?\s*(.+?)\s*(?:has many|has several|"
                      r"有多个|有多条|包含多个|包含多条)\s*(.+)$", re.I)
ADD_FIELD = re.compile(r"^(?:please\s+)?add\s+(?:an?|the)?\s*(.+?)\s+(?:to|on|for)\s+(?:the\s+)?"
                       r"(.+)$", re.I)
ADD_FIELD_ZH = re.compile(r"^(?:请)?(?:给|为|在)?(.+?)(?:增加|添加|加上|加)(?:一个)?(.+?)"
                          r"(?:字段)?$")
REMOVE_FIELD = re.compile(r"^(?:please\s+)?(?:remove|delete|drop)\s+(?:the\s+)?(.+?)\s+from\s+"
                          r"(?:the\s+)?(.+)$", re.I)
REMOVE_FIELD_ZH = re.compile(r"^(?:请)?(?:删除|去掉|移除)(.+?)的(.+?)(?:字段)?$")


def handle_intro(draft: Draft, text: str, reading: Reading) -> bool:
    match = INTRO.match(text) or INTRO_ZH.match(text)
    if not match:
        return False
    title, rest = match.group(1).strip(), match.group(2)
    if not draft.get("title"):
        draft["title"] = title[:120]
        draft["name"] = identifier_for(title, "project") or draft["name"]
        reading.notes.append(f"~ title: {title}")
    for chunk in re.split(r"[,，、;；]", rest):
        has_parts = re.search(r"[(（]|\swith\s", chunk, re.I)
        for item in ([chunk.strip(" .。")] if has_parts else split_items(chunk)):
            if item:
                _intro_item(draft, item, reading)
    return True


def _intro_item(draft: Draft, item: str, reading: Reading) -> None:
    if V.REPORT_WORDS.search(item):
        _add_report(draft, V.REPORT_WORDS.sub("", item), reading)
        return
    inner = re.match(r"^(.+?)\s*(?:[(（](?:含|包括|包含|with)?\s*(.+?)[)）]|\s+with\s+(.+))$",
                     item, re.I)
    head = inner.group(1) if inner else item
    entity = add_entity(draft, head, reading)
    if entity is None or not inner:
        return
    for part in split_items(inner.group(2) or inner.group(3)):
        if re.search(r"photo|image|picture|照片|图片", part, re.I):
            parsed = parse_field(draft, entity, part)
            if parsed is None:
                continue
            # "with photos" is one image field per record: named in the singular.
            parsed["name"] = identifier_for(parsed["label"], "field", singular=True) \
                or parsed["name"]
            if all(f["name"] != parsed["name"] for f in entity["fields"]):
                entity["fields"].append(parsed)
                reading.notes.append(f"+ {entity['name']}.{parsed['name']} (image)")
        else:
            child = add_entity(draft, part, reading)
            if child is not None:
                add_reference(child, entity, reading)


def _add_report(draft: Draft, label: str, reading: Reading) -> dict[str, Any] | None:
    label = label.strip()
    for report in draft["reports"]:
        if report["label"].lower() == label.lower():
            return report
    name = identifier_for(label, "report", reserved=False)
    if name is None:
        reading.not_understood.append(f"cannot make a name for the report {label!r}")
        return None
    report = {"name": unique_name(name, {r["name"] for r in draft["reports"]}),
              "label": label[:80], "entity": "", "where": []}
    draft["reports"].append(report)
    reading.notes.append(f"+ report {report['name']} ({label})")
    return report


def handle_report(draft: Draft, text: str, reading: Reading) -> bool:
    match = REPORT_DEF.match(text)
    if not match:
        return False
    report = _add_report(draft, match.group(1), reading)
    if report is None:
        return True
    body = match.group(2)
    mentions = entity_matches(draft, body)
    if not mentions:
        reading.not_understood.append(f"which records the report lists: {body!r}")
        return True
    entity = mentions[-1][2] if CJK.search(body) else mentions[0][2]
    conditions = []
    for clause in re.split(r"\s+and\s+|且|并且|而且|，|,", body):
        condition = _condition(entity, clause)
        if condition is not None:
            conditions.append(condition)
    if not conditions:
        reading.not_understood.append(f"the report's condition: {body!r}")
        return True
    report.update(entity=entity["name"], where=conditions,
                  columns=[f["name"] for f in entity["fields"] if f["type"] != "image"][:6])
    dates = [c["field"] for c in conditions if _field(entity, c["field"])["type"] in (
        "date", "datetime")]
    if dates:
        report["order_by"] = dates[0]
    reading.notes.append(f"~ report {report['name']}: {entity['name']} where " + " and ".join(
        f"{c['field']} {c['op']} {c.get('value')}" for c in conditions))
    return True


def _field(entity: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in entity["fields"] if f["name"] == name)


def _condition(entity: dict[str, Any], clause: str) -> dict[str, Any] | None:
    low = clause.lower()
    best = None
    for f in entity["fields"]:
        for label in {f["label"].lower(), f["name"].replace("_", " ")}:
            at = low.find(label)
            if label and at >= 0 and (best is None or len(label) > len(best[2])):
                best = (f, at, label)
    if best is None:
        return None
    f, at, label = best
    rest = low[at + len(label):].strip()
    rest = re.sub(r"^(date|日期)\s*", "", rest)
    for phrase in sorted(V.CONDITION_OPS, key=len, reverse=True):
        if rest.startswith(phrase):
            op = V.CONDITION_OPS[phrase]
            value_text = rest[len(phrase):].strip(" 的")
            break
    else:
        return None
    if op in ("empty", "not_empty"):
        return {"field": f["name"], "op": op}
    value = _value(f, re.split(r"的|\s+(?:in|of)\s+", value_text)[0].strip())
    return None if value is None else {"field": f["name"], "op": op, "value": value}


def _value(f: dict[str, Any], text: str) -> Any:
    kind = f["type"]
    if kind in ("date", "datetime"):
        if re.match(r"^(today|now|今天|当前|现在)", text):
            return "today"
        if m := re.match(r"^(\d+)\s*(?:days? ago|天前)", text):
            return f"today-{m.group(1)}"
        if m := re.match(r"^(?:in\s+)?(\d+)\s*(?:days?(?: from now)?|天后)", text):
            return f"today+{m.group(1)}"
        m = re.match(r"^\d{4}-\d{2}-\d{2}", text)
        return m.group(0) if m else None
    if kind in ("integer", "number"):
        m = re.match(r"^-?\d+(\.\d+)?", text)
        return (float(m.group(0)) if "." in m.group(0) else int(m.group(0))) if m else None
    if kind == "boolean":
        return text.startswith(("yes", "true", "是", "合格"))
    if kind == "choice":
        return next((c for c in sorted(f["choices"], key=len, reverse=True)
                     if text.startswith(c.lower())), None)
    return text.strip("'\"“”‘’") or None


def handle_roles(draft: Draft, text: str, reading: Reading) -> bool:
    had_prefix = bool(V.ROLES_PREFIX.match(text))
    body = V.ROLES_PREFIX.sub("", text)
    clauses = [c for c in re.split(r"[;；]|\.\s+|。", body) if c.strip()]
    parsed = [_role(draft, c) for c in clauses]
    if not parsed or not all(parsed) and not had_prefix:
        return False
    for role in filter(None, parsed):
        existing = next((r for r in draft["roles"] if r["name"] == role["name"]), None)
        if existing:
            existing.update(role)
        else:
            draft["roles"].append(role)
        reading.notes.append(f"~ role {role['name']}: " + "; ".join(
            f"{k}: {'/'.join(v)}" for k, v in role["permissions"].items()))
    for clause, role in zip(clauses, parsed, strict=True):
        if role is None:
            reading.not_understood.append(clause.strip())
    return True


def _role(draft: Draft, clause: str) -> dict[str, Any] | None:
    parts = V.ROLE_SPLIT.split(clause.strip(), maxsplit=1)
    if len(parts) != 2:
        return None
    who, rest = parts[0].strip(), parts[1].strip().lower()
    who = re.sub(r"^(an?|the)\s+", "", who, flags=re.I).rstrip("s") if not CJK.search(
        who) else who
    name = identifier_for(who, "role", reserved=False)
    if not name:
        return None
    permissions: dict[str, list[str]] = {}
    if V.EVERYTHING.search(rest):
        permissions["*"] = list(OPERATIONS)
    else:
        verbs: list[str] = []
        last_was_entity = False
        entities = entity_matches(draft, rest)

        def inside(at: int) -> bool:
            return any(s <= at < t for s, t, _ in entities)

        verb_pattern = "|".join(sorted(map(re.escape, V.OPERATIONS), key=len, reverse=True))
        tokens = sorted([(m.start(), "verb", V.OPERATIONS[m.group(0)])
                         for m in re.finditer(verb_pattern, rest) if not inside(m.start())]
                        + [(m.start(), "manage", "") for m in re.finditer(
                            "|".join(V.MANAGE), rest) if not inside(m.start())]
                        + [(s, "entity", e["name"]) for s, _, e in entities])
        for _, kind, value in tokens:
            if kind in ("verb", "manage"):
                verbs = [] if last_was_entity else verbs
                verbs += list(OPERATIONS) if kind == "manage" else [value]
                last_was_entity = False
            elif verbs:
                ops = permissions.setdefault(value, [])
                ops += [v for v in verbs if v not in ops]
                last_was_entity = True
        if not permissions:
            return None
    return {"name": name, "label": who[:80], "permissions": permissions}


def handle_relation(draft: Draft, text: str, reading: Reading) -> bool:
    for pattern, child_first in ((BELONGS, True), (HAS_MANY, False)):
        match = pattern.match(text)
        if match:
            a, b = find_entity(draft, match.group(1)), find_entity(draft, match.group(2))
            if a is None or b is None or a is b:
                return False
            child, parent = (a, b) if child_first else (b, a)
            add_reference(child, parent, reading)
            return True
    return False


def handle_change(draft: Draft, text: str, reading: Reading) -> bool:
    for pattern, field_first in ((ADD_FIELD, True), (ADD_FIELD_ZH, False)):
        match = pattern.match(text)
        if match:
            item, target = (match.group(1), match.group(2)) if field_first else (
                match.group(2), match.group(1))
            entity = _one_entity(draft, target, reading)
            if entity is None:
                return True
            set_fields(draft, entity, [item], reading)
            return True
    for pattern in (REMOVE_FIELD, REMOVE_FIELD_ZH):
        match = pattern.match(text)
        if match:
            item, target = ((match.group(1), match.group(2)) if pattern is REMOVE_FIELD
                            else (match.group(2), match.group(1)))
            entity = _one_entity(draft, target, reading)
            if entity is None:
                return True
            name = identifier_for(item, "field")
            before = len(entity["fields"])
            entity["fields"] = [f for f in entity["fields"] if f["name"] != name
                                and f["label"].lower() != item.lower().strip()]
            if len(entity["fields"]) == before:
                reading.not_understood.append(f"{entity['name']} has no field {item!r}")
            else:
                reading.notes.append(f"- {entity['name']}.{name}")
            return True
    return False


def _one_entity(draft: Draft, text: str, reading: Reading) -> dict[str, Any] | None:
    """The one entity `text` names; asks back when it is ambiguous ("inspections")."""
    found = entity_matches(draft, text)
    if len(found) == 1:
        return found[0][2]
    word = text.lower().strip()
    stem = singular_of(word)
    partial = [e for e in draft["entities"] if stem and (stem in e["label"].lower()
                                                         or stem in e["name"])]
    if len(partial) == 1:
        return partial[0]
    options = ", ".join(e["label"] for e in (partial or draft["entities"]))
    reading.not_understood.append(f"which entity is {text!r}? ({options})")
    return None


FIELD_KEYWORDS = re.compile(r"[:：]|\bhas\b|\bhave\b|\brecords?\b|\bcontains?\b|"
                            r"\bfields are\b|包括|包含|记录|有", re.I)


def handle_fields(draft: Draft, text: str, reading: Reading) -> bool:
    """`A device has name (required), ...` / `设备：名称（必填）、...`: the first keyword whose
    head names a known entity splits the sentence."""
    for match in FIELD_KEYWORDS.finditer(text):
        head = re.sub(r"^(an?|the|each|every|每个|每条)\s*", "", text[:match.start()].strip(),
                      flags=re.I)
        entity = find_entity(draft, head) if head else None
        if entity is None or len(head) > 2 * len(entity["label"]) + 10:
            continue
        set_fields(draft, entity, split_items(text[match.end():]), reading)
        return True
    return False


HANDLERS = (handle_roles, handle_report, handle_change, handle_relation, handle_intro,
            handle_fields)


def read_message(draft: Draft, text: str) -> Reading:
    """Apply every sentence of `text` to `draft` (in place)."""
    reading = Reading()
    for sentence in statements(text):
        if V.CONFIRM.match(sentence):
            reading.confirm = True
            continue
        if not any(handler(draft, sentence, reading) for handler in HANDLERS):
            reading.not_understood.append(sentence)
    return reading
