"""The words the requirements reader understands, in English and Chinese.

Kept as data so that adding a synonym is a one-line change with no code to follow.
"""

from __future__ import annotations

import re

REQUIRED = ("required", "mandatory", "must", "必填", "必须", "必需")
OPTIONAL = ("optional", "可选", "选填")
UNIQUE = ("unique", "唯一", "不重复")
#: attribute word -> field type (checked longest first)
TYPE_WORDS = {
    "long text": "text", "text area": "text", "长文本": "text", "多行文本": "text",
    "text": "string", "string": "string", "文本": "string", "字符": "string",
    "integer": "integer", "whole number": "integer", "int": "integer", "整数": "integer",
    "decimal": "number", "number": "number", "float": "number", "数字": "number",
    "小数": "number", "数值": "number",
    "datetime": "datetime", "date and time": "datetime", "timestamp": "datetime",
    "日期时间": "datetime", "时间": "datetime", "time": "datetime",
    "date": "date", "日期": "date",
    "yes/no": "boolean", "boolean": "boolean", "true/false": "boolean", "是/否": "boolean",
    "是否": "boolean", "布尔": "boolean",
    "photo": "image", "image": "image", "picture": "image", "照片": "image", "图片": "image",
}
#: Patterns on a field's name that suggest its type when no type is given.
NAME_HINTS: tuple[tuple[str, str], ...] = (
    (r"photo|image|picture|照片|图片", "image"),
    (r"(^|\s|_)(is|has)(\s|_)|passed|是否|合格", "boolean"),
    (r"(date|_on|\bon$|due|日期|到期|截止)", "date"),
    (r"(\bat$|_at$|time|时间)", "datetime"),
    (r"notes?$|remarks?|description|comment|备注|描述|说明|内容", "text"),
    (r"count|quantity|days|number of|数量|次数|天数|个数|interval", "integer"),
    (r"price|amount|cost|weight|score|rate|金额|价格|单价|重量|得分|分数", "number"),
)
CONFIRM = re.compile(r"^\s*(yes[,!. ]*)?(confirm(ed)?|looks good|approved?|lgtm|确认|确定|"
                     r"没问题|可以了)\s*[.!。！]?\s*$", re.I)
#: operator phrases of report conditions -> op (longest first when matching)
CONDITION_OPS = {
    "is not empty": "not_empty", "is set": "not_empty", "is filled": "not_empty",
    "不为空": "not_empty", "已填": "not_empty", "is empty": "empty", "is missing": "empty",
    "为空": "empty", "未填": "empty", "on or before": "le", "no later than": "le",
    "on or after": "ge", "no earlier than": "ge", "is before": "lt", "before": "lt",
    "earlier than": "lt", "is after": "gt", "after": "gt", "later than": "gt",
    "早于": "lt", "晚于": "gt", "不晚于": "le", "不早于": "ge", "is not": "ne", "isn't": "ne",
    "not": "ne", "!=": "ne", "不是": "ne", "不等于": "ne", "≠": "ne", "less than": "lt",
    "below": "lt", "under": "lt", "fewer than": "lt", "小于": "lt", "少于": "lt", "低于": "lt",
    "more than": "gt", "greater than": "gt", "above": "gt", "over": "gt", "大于": "gt",
    "多于": "gt", "超过": "gt", "高于": "gt", "at least": "ge", "不少于": "ge", "至少": "ge",
    "at most": "le", "不超过": "le", "至多": "le", "<=": "le", ">=": "ge", "<": "lt",
    ">": "gt", "contains": "contains", "包含": "contains", "含有": "contains",
    "equals": "eq", "is": "eq", "=": "eq", "等于": "eq", "是": "eq", "为": "eq",
}
OPERATIONS = {
    "read": "read", "view": "read", "see": "read", "list": "read", "查看": "read",
    "查询": "read", "浏览": "read", "create": "create", "add": "create", "record": "create",
    "register": "create", "新建": "create", "创建": "create", "录入": "create", "登记": "create",
    "新增": "create", "update": "update", "edit": "update", "modify": "update",
    "change": "update", "修改": "update", "编辑": "update", "更新": "update",
    "delete": "delete", "remove": "delete", "删除": "delete",
}
EVERYTHING = re.compile(r"(?<![a-z])(everything|all)(?![a-z])|全部|所有|一切")
MANAGE = ("manage", "管理")
ROLE_SPLIT = re.compile(r"\s+can\s+|可以|能够|能")
ROLES_PREFIX = re.compile(r"^\s*(roles?|角色|用户角色)\s*[:：]\s*", re.I)
REPORT_WORDS = re.compile(r"\s*(report|报表|报告)\s*$", re.I)
