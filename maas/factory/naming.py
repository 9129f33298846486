"""Names people use -> identifiers code can use, and back.

Business words come in English or Chinese ("inspection records", "巡检记录"). Identifiers are
ASCII snake_case, singular for entities (`inspection_record`) with a plural for tables and
URLs (`inspection_records`). Chinese is translated word by word from a business term table
(plus the thing-model table for device words); what it cannot cover gets a neutral numbered
name rather than a half-translated guess.
"""

from __future__ import annotations

import re
import unicodedata

from maas.factory.spec import RESERVED
from maas.toolbox.thingmodel.normalise import translate_words
from maas.toolbox.thingmodel.terms import TERMS as DEVICE_TERMS

BUSINESS_TERMS: dict[str, str] = {
    "巡检": "inspection", "点检": "inspection", "检查": "check", "计划": "plan", "记录": "record",
    "缺陷": "defect", "隐患": "hazard", "照片": "photo", "图片": "photo", "附件": "attachment",
    "设备": "device", "名称": "name", "编号": "code", "编码": "code", "位置": "location",
    "地点": "location", "区域": "area", "型号": "model_no", "安装": "installed", "日期": "date",
    "状态": "status", "下次": "next", "上次": "last", "到期": "due", "截止": "due",
    "负责人": "owner", "巡检员": "inspector", "检查人": "inspector", "人员": "person",
    "管理员": "admin", "经理": "manager", "主管": "supervisor", "描述": "description",
    "说明": "description", "备注": "remarks", "严重程度": "severity", "严重": "severity",
    "等级": "level", "级别": "level", "结果": "result", "报表": "report", "逾期": "overdue",
    "客户": "customer", "订单": "sales_order", "产品": "product", "物料": "material",
    "数量": "quantity", "价格": "price", "单价": "unit_price", "金额": "amount",
    "供应商": "supplier", "仓库": "warehouse", "库位": "bin", "库存": "stock",
    "部门": "department", "员工": "employee", "电话": "phone", "手机": "mobile",
    "邮箱": "email", "地址": "address", "开始": "start", "结束": "end", "完成": "completed",
    "周期": "cycle", "天数": "days", "天": "days", "频率": "frequency", "合格": "passed",
    "是否": "is", "发现": "found", "处理": "handling", "措施": "action", "整改": "rectification",
    "维修": "repair", "保养": "maintenance", "维护": "maintenance", "工单": "work_order",
    "备件": "spare_part", "车间": "workshop", "产线": "line", "班组": "team", "工人": "worker",
    "项目": "item", "标准": "standard", "时间": "time", "类型": "kind", "类别": "category",
    "分类": "category", "标题": "title", "内容": "content", "序号": "seq", "批次": "batch",
    "规格": "spec_text", "单位": "unit", "重量": "weight", "温度": "temperature",
    "得分": "score", "分数": "score", "原因": "cause", "系统": "system", "管理": "management",
    "工序": "process_step", "质检": "quality_check", "检验": "check", "供货": "supply",
    "期限": "deadline", "限期": "deadline", "联系人": "contact", "责任人": "owner",
    "日": "date", "人": "person",
}
CJK = re.compile(r"[\u3400-\u9fff]")
IRREGULAR = {"person": "people", "data": "data", "equipment": "equipment", "staff": "staff",
             "information": "information", "child": "children"}
SINGULAR = {v: k for k, v in IRREGULAR.items()}


def snake(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return re.sub(r"_+", "_", text)


def plural_of(name: str) -> str:
    """`inspection_record` -> `inspection_records`, `category` -> `categories`."""
    head, _, last = name.rpartition("_")
    if last in IRREGULAR:
        word = IRREGULAR[last]
    elif re.search(r"[^aeiou]y$", last):
        word = last[:-1] + "ies"
    elif re.search(r"(s|x|z|ch|sh)$", last):
        word = last + "es"
    else:
        word = last + "s"
    return f"{head}_{word}" if head else word


def singular_of(word: str) -> str:
    """The inverse of plural_of for one English word (`records` -> `record`)."""
    word = word.lower()
    if word in SINGULAR:
        return SINGULAR[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(ss|x|z|ch|sh)es$", word):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def fit(ident: str, kind: str, *, reserved: bool = True) -> str:
    """A valid identifier (<= 40 chars, not reserved unless `reserved=False`) from a snake
    string."""
    ident = snake(ident)[:40].strip("_")
    if not ident or not ident[0].isalpha():
        ident = f"{kind}_{ident}".strip("_")[:40]
    if reserved and ident in RESERVED:
        ident = f"{ident}_{kind}"[:40]
    return ident


def identifier_for(label: str, kind: str, *, singular: bool = False,
                   reserved: bool = True) -> str | None:
    """An identifier for a user's name of a thing, or None if it cannot be made honestly.

    Anything that is not a word is dropped first, which also defuses names such as
    `__import__('os').system('x')` (-> `import_os_system_x`): the result is only ever a
    plain identifier.
    """
    label = unicodedata.normalize("NFKC", label).strip()
    if not label:
        return None
    if CJK.search(label):
        ascii_part = snake(re.sub(r"[\u3400-\u9fff]", " ", label))
        translated = translate_words(label, {**DEVICE_TERMS, **BUSINESS_TERMS})
        words = snake(translated or "") or (ascii_part if len(ascii_part) >= 3 else "")
    else:
        words = snake(label)
    if not words:
        return None
    if singular:
        head, _, last = words.rpartition("_")
        words = f"{head}_{singular_of(last)}" if head else singular_of(last)
    return fit(words, kind, reserved=reserved)


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... if taken."""
    if base not in taken:
        return base
    n = 2
    while f"{base[:36]}_{n}" in taken:
        n += 1
    return f"{base[:36]}_{n}"
