"""Typed configuration mappings (suite ``params``, suite ``train:`` blocks): a YAML value checked against a
dataclass field's type, converted (lists to tuples, integers to floats), or refused in one line.

A module of its own, below the evaluators and the trainer, so that both check their YAML with the same
rules and neither imports the other.
"""
from __future__ import annotations

import typing
from typing import Any, Union


def type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = " or ".join(type_name(a) for a in args)
        return f"{inner} or null" if len(args) < len(typing.get_args(tp)) else inner
    if origin in (tuple, list):
        return f"a list of {type_name(typing.get_args(tp)[0])}"
    if origin is dict or tp is dict:
        return "a mapping"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """(ok, value converted to the field's type): lists become tuples, integers are numbers."""
    if tp is Any:
        return True, value
    origin = typing.get_origin(tp)
    if origin is Union:
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return True, None
                continue
            ok, out = coerce(value, arg)
            if ok:
                return True, out
        return False, value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False, value
        item = typing.get_args(tp)[0]
        out = []
        for v in value:
            ok, c = coerce(v, item)
            if not ok:
                return False, value
            out.append(c)
        return True, tuple(out)
    if origin is dict or tp is dict:
        return isinstance(value, dict), dict(value) if isinstance(value, dict) else value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string: a number all the same
            try:
                return True, float(value)
            except ValueError:
                return False, value
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if tp is str:
        return isinstance(value, str), value
    return isinstance(value, tp), value
