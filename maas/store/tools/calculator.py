"""A calculator that evaluates arithmetic without `eval`: the expression is parsed into
Python's AST and only numbers, arithmetic operators and a short list of math functions
are walked. Anything else (names, attributes, calls of other functions, huge powers) is
refused with a message the model can act on."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from maas.store.tools import ToolContext, ToolError, ToolResult

MAX_EXPRESSION = 300
MAX_EXPONENT = 1000
MAX_MAGNITUDE = 1e300

BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max,
    "log": math.log, "log10": math.log10, "exp": math.exp, "sin": math.sin,
    "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "radians": math.radians, "degrees": math.degrees,
    "ceil": math.ceil, "floor": math.floor,
}
CONSTANTS = {"pi": math.pi, "e": math.e}


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError("only numbers are allowed")
    if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise ToolError("the result is too large")
    return value


def _walk(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _walk(node.body)
    if isinstance(node, ast.Constant):
        return _number(node.value)
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        return CONSTANTS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left, right = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError(f"exponents above {MAX_EXPONENT} are not allowed")
        try:
            return _number(BINARY[type(node.op)](left, right))
        except ZeroDivisionError as exc:
            raise ToolError("division by zero") from exc
        except OverflowError as exc:
            raise ToolError("the result is too large") from exc
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        return _number(UNARY[type(node.op)](_walk(node.operand)))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS and not node.keywords):
        args = [_walk(arg) for arg in node.args]
        try:
            return _number(FUNCTIONS[node.func.id](*args))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ToolError(f"{node.func.id}: {exc}") from exc
    raise ToolError("only numbers, + - * / // % ** and the functions "
                    f"{', '.join(sorted(FUNCTIONS))} are allowed")


def evaluate(expression: str) -> float | int:
    """The value of an arithmetic expression (`^` is read as a power, as people write)."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if not text:
        raise ToolError("the expression is empty")
    if len(text) > MAX_EXPRESSION:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {exc.msg}") from exc
    return _walk(tree)


class Calculator:
    name = "calculator"
    description = ("Evaluate an arithmetic expression exactly, e.g. '380*1.732*25*0.85/1000'. "
                   "Supports + - * / // % ** and sqrt, log, sin, cos, round, min, max, pi.")
    parameters = {"type": "object", "additionalProperties": False, "required": ["expression"],
                  "properties": {"expression": {"type": "string", "maxLength": MAX_EXPRESSION}}}

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        expression = str(arguments.get("expression", ""))
        value = evaluate(expression)
        shown = f"{value:.10g}" if isinstance(value, float) else str(value)
        return ToolResult(f"{expression.strip()} = {shown}", {"value": value})
