"""Device descriptions in prose -> draft properties, events and services.

Reads the sentences people write about devices: "输出频率：0~400 Hz，分辨率 0.01 Hz",
"measures temperature -40 to 125 °C with 0.1 °C resolution", "alarm when ..." (an event),
"supports remote start/stop" (services). A heading such as "事件 / Events" or "Services"
tells what its bullets are; without one, keywords decide. Deterministic and conservative:
a sentence it cannot read is noted, not guessed at.
"""

from __future__ import annotations

import re
from typing import Any

from maas.toolbox.thingmodel.units import UnitCatalogue
from maas.toolbox.thingmodel.values import (
    STEP,
    clean_text,
    find_enum,
    find_ranges,
    find_step,
    infer_number_type,
    is_rw,
    text_length,
)

SECTION_WORDS = (("events", re.compile(r"事件|告警|报警|event|alarm|alert", re.I)),
                 ("services", re.compile(r"服务|命令|指令|service|command|action", re.I)),
                 ("properties", re.compile(r"属性|参数|测量|监测|property|properties|parameter|"
                                           r"measure|specification|数据点|data point", re.I)))
ERROR_WORDS = re.compile(r"故障|错误|跳闸|error|fault|trip|failure", re.I)
ALERT_WORDS = re.compile(r"告警|报警|预警|警告|超限|alarm|alert|warning|threshold", re.I)
INFO_WORDS = re.compile(r"事件|通知|提示|完成|上线|event|notification|notice|completed", re.I)
EVENT_TRIGGER = re.compile(r"当|时|超过|高于|低于|大于|小于|when|if|exceeds?|above|below|"
                           r"drops?|rises?|falls?", re.I)
SERVICE_INTRO = re.compile(r"(?:supports?|provides?|accepts?|支持|可|能够)\s*(?:the\s+)?"
                           r"(?:remote|远程)\s*(?:commands?\s*(?:for|to)?|指令|命令)?\s*[:：]?\s*"
                           r"(?P<list>[^。.;；\n]+)", re.I)
LIST_SPLIT = re.compile(r"\s*(?:/|、|,|，|\band\b|\bor\b|和|及|以及|与|或)\s*", re.I)
ASYNC_WORDS = re.compile(r"异步|async|asynchronous|takes?\s+(?:up\s+to|several|about)", re.I)
SYNC_WORDS = re.compile(r"同步|\bsync\b|synchronous|immediately|立即", re.I)
INPUT_WORDS = re.compile(r"(?:输入|参数|input|inputs|parameter|takes)\s*[:：]?\s*(?P<x>[^;；。]+)",
                         re.I)
OUTPUT_WORDS = re.compile(r"(?:输出|返回|上报|output|outputs|returns?|reports?|carries|"
                          r"携带|附带)\s*[:：]?\s*(?P<x>[^;；。]+)", re.I)
LABEL = re.compile(r"^\s*(?:[-*+•·]|\d+[.)、])?\s*(?P<label>[^:：]{1,40}?)\s*[:：]\s*(?P<rest>.*)$")
FILLER_HEAD = re.compile(r"^(?:and|with|the|its|a|an|also|和|及|并且|并|其|该|本)\s+", re.I)
FILLER_TAIL = re.compile(r"\s*(?:range|measuring range|from|of|between|is|are|为|是|范围|"
                         r"测量范围|设定范围|可设|in|at|:|：|,|，)\s*$", re.I)
VERBS = re.compile(r".*\b(?:measures?|monitors?|reports?|reads?|provides?|senses?|has|with|"
                   r"outputs?|sets?)\b\s*|.*(?:测量|监测|检测|采集|输出范围)", re.I)
TYPE_HINT = re.compile(r"[(（]\s*(?P<t>故障|告警|报警|信息|error|fault|alert|alarm|warning|"
                       r"info|sync|async|同步|异步|bool|布尔|text|文本)\s*[)）]", re.I)


def sentences(text: str) -> list[str]:
    """Lines, then sentences (。 . ! ?), keeping "0: Stop; 1: Run" together."""
    out = []
    for line in text.splitlines():
        for part in re.split(r"(?<=[。！？!?])|(?<=[a-z)）\]]\.)\s+(?=[A-Z])", line):
            if part and part.strip(" -*•"):
                out.append(part.strip())
    return out


def section_of(headings: list[str]) -> str | None:
    """The kind of item a heading announces, nearest heading first."""
    for heading in reversed(headings):
        for kind, words in SECTION_WORDS:
            if words.search(heading):
                return kind
    return None


def _name_before(text: str) -> str:
    """The quantity named before a value: "The sensor measures temperature from" ->
    "temperature"."""
    text = STEP.sub(" , ", text)
    text = [t for t in re.split(r"[;；。,，]|\band\b|和|及", text) if t.strip()][-1:] or [""]
    text = text[0]
    text = VERBS.sub("", text) if VERBS.match(text) else text
    text = re.sub(r"^\s*(?:[-*+•·]|\d+[.)、])\s*", "", text)
    for _ in range(3):
        text = FILLER_TAIL.sub("", FILLER_HEAD.sub("", text.strip()))
    text = re.sub(r"^(?:the|its|a|an)\s+", "", text.strip(), flags=re.I)
    words = text.split()
    if len(words) > 5 or len(text) > 40:
        return ""
    return text.strip(" -:：")


def _capital(name: str) -> str:
    return name[:1].upper() + name[1:]


def _kind_of_event(text: str) -> str:
    hint = TYPE_HINT.search(text)
    probe = hint.group("t") if hint else text
    if ERROR_WORDS.search(probe):
        return "error"
    if ALERT_WORDS.search(probe):
        return "alert"
    return "info" if hint or INFO_WORDS.search(probe) else "alert"


class ProseReader:
    """Reads one document's prose; `props` grows as it goes so events can refer to them."""

    def __init__(self, units: UnitCatalogue, notes: list[str]) -> None:
        self.units, self.notes = units, notes
        self.props: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []

    def read(self, text: str, section: str | None) -> None:
        for sentence in sentences(text):
            label_match = LABEL.match(sentence)
            if section == "events":
                self._event(sentence, label_match)
            elif section == "services":
                self._services_line(sentence, label_match)
            elif not self._properties(sentence, label_match):
                if SERVICE_INTRO.search(sentence):
                    self._service_list(sentence)
                elif (ALERT_WORDS.search(sentence) or ERROR_WORDS.search(sentence)) and (
                        EVENT_TRIGGER.search(sentence) or label_match):
                    self._event(sentence, label_match)

    # -- properties ------------------------------------------------------------------------
    def _properties(self, sentence: str, label: re.Match[str] | None) -> bool:
        rest = label.group("rest") if label else sentence
        enum = find_enum(rest)
        if label and enum:
            hint = TYPE_HINT.search(sentence)
            if hint and hint.group("t").lower() in ("bool", "布尔") and set(enum) == {"0", "1"}:
                data_type = {"type": "bool", "specs": {"true": enum["1"], "false": enum["0"]}}
            else:
                data_type = {"type": "enum", "specs": {"values": enum}}
            self._add_prop(label.group("label"), data_type, sentence)
            return True
        if label and re.search(r"\b(?:text|string)\b|文本|字符串", rest, re.I):
            length = text_length(rest) or 255
            self._add_prop(label.group("label"), {"type": "text", "specs": {"length": length}},
                           sentence)
            return True
        ranges = find_ranges(rest, self.units)
        if not ranges:
            return False
        offset = 0
        for i, found in enumerate(ranges):
            end = ranges[i + 1].start if i + 1 < len(ranges) else len(rest)
            tail = clean_text(rest)[found.end:end]
            name = _name_before(clean_text(rest)[offset:found.start])
            if label and i == 0 and not name:  # "输出频率：0~400 Hz"
                name = label.group("label")
            offset = found.end
            if not name:
                self.notes.append(f"prose: range {found.min:g}~{found.max:g} in "
                                  f"{sentence[:60]!r} names no quantity; skipped")
                continue
            step = find_step(tail)
            specs: dict[str, Any] = {"min": found.min, "max": found.max}
            if step:
                specs["step"] = step
            if found.unit:
                specs["unit"] = found.unit.symbol
            kind = infer_number_type(found.min, found.max, step, found.unit)
            self._add_prop(name, {"type": kind, "specs": specs}, tail if i else sentence)
        return True

    def _add_prop(self, name: str, data_type: dict[str, Any], context: str) -> None:
        name = re.sub(r"^\s*(?:[-*+•·]|\d+[.)、])\s*", "", name).strip()
        name = TYPE_HINT.sub("", name).strip()
        self.props.append({"name": _capital(name), "access": "rw" if is_rw(context) else "r",
                           "description": "", "data_type": data_type})

    # -- events and services ----------------------------------------------------------------
    def _mentioned(self, text: str) -> list[dict[str, Any]]:
        """Properties whose name appears in `text`, as params (for event outputs etc.)."""
        low = clean_text(text).casefold()
        return [{"name": p["name"], "data_type": p["data_type"]} for p in self.props
                if p["name"] and p["name"].casefold() in low]

    def _event(self, sentence: str, label: re.Match[str] | None) -> None:
        if label:
            name, body = label.group("label"), label.group("rest")
        else:
            mentioned = self._mentioned(sentence)
            name = (mentioned[0]["name"] + " alarm") if mentioned else ""
            body = sentence
        name = TYPE_HINT.sub("", re.sub(r"^\s*(?:[-*+•·]|\d+[.)、])\s*", "", name)).strip()
        if not name:
            self.notes.append(f"prose: event sentence {sentence[:60]!r} names nothing; skipped")
            return
        if m := OUTPUT_WORDS.search(body):
            output = self._mentioned(m.group("x"))
        else:  # "alarm when the temperature exceeds ...": the alarm is about temperature
            output = [] if label else self._mentioned(sentence)
        self.events.append({"name": _capital(name), "type": _kind_of_event(sentence),
                            "description": body.strip()[:300], "output": output})

    def _services_line(self, sentence: str, label: re.Match[str] | None) -> None:
        if not label:
            if SERVICE_INTRO.search(sentence):
                self._service_list(sentence)
            else:
                self.notes.append(f"prose: service line {sentence[:60]!r} has no 'name:' "
                                  "label; skipped")
            return
        body = label.group("rest")
        inputs = self._mentioned(m.group("x")) if (m := INPUT_WORDS.search(body)) else []
        outputs = self._mentioned(m.group("x")) if (m := OUTPUT_WORDS.search(body)) else []
        self._add_service(label.group("label"), body, inputs, outputs, sentence)

    def _service_list(self, sentence: str) -> None:
        items = [i.strip(" .。") for i in LIST_SPLIT.split(SERVICE_INTRO.search(sentence)
                                                          .group("list"))]
        for item in items:
            if item and len(item) <= 24:
                self._add_service(item, "", [], [], sentence)

    def _add_service(self, name: str, body: str, inputs: list[dict[str, Any]],
                     outputs: list[dict[str, Any]], context: str) -> None:
        name = TYPE_HINT.sub("", re.sub(r"^\s*(?:[-*+•·]|\d+[.)、])\s*", "", name)).strip()
        call = "sync" if SYNC_WORDS.search(context) and not ASYNC_WORDS.search(context) \
            else "async"
        self.services.append({"name": name[:1].upper() + name[1:], "call_type": call,
                              "description": body.strip()[:300], "input": inputs,
                              "output": outputs})
