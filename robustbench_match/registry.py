"""One generic name → object registry, shared by tasks, methods, evaluators and attack recipes.

Why one class: every registry in the project needs the same three things — decorator
registration, lazy ``"module:attr"`` entries (so ``import robustbench_match`` stays cheap
and heavy dependencies such as textattack load only when used) and a "did you mean …?"
error for unknown names.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """An unknown registry name; its message is a complete, user-facing sentence."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps names (case-insensitive, with aliases) to objects or lazy ``"module:attr"`` paths."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}

    @staticmethod
    def _norm(name: str) -> str:
        return name.strip().lower()

    def register(self, name: str, obj: T | str | None = None, *, aliases: tuple[str, ...] = (),
                 override: bool = False) -> Any:
        """Register ``obj`` (or decorate a function/class) under ``name`` and its aliases; ``override`` lets a
        later definition replace an earlier one (task files on a later include path)."""

        def add(target: T | str) -> T | str:
            key = self._norm(name)
            if key in self._entries and not override:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[key] = target
            for alias in aliases:
                self._aliases[self._norm(alias)] = key
            return target

        if obj is not None:
            add(obj)
            return obj
        return add

    def unregister(self, name: str) -> None:
        """Remove ``name`` and its aliases (tasks a finished command loaded from its include paths)."""
        key = self.canonical(name)
        del self._entries[key]
        self._aliases = {a: k for a, k in self._aliases.items() if k != key}

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or an alias of it; unknown names raise with a suggestion."""
        key = self._norm(name)
        key = self._aliases.get(key, key)
        if key not in self._entries:
            choices = sorted(self._entries) + sorted(self._aliases)
            close = difflib.get_close_matches(key, choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{hint} (known: {', '.join(sorted(self._entries))})"
            )
        return key

    def get(self, name: str) -> T:
        key = self.canonical(name)
        entry = self._entries[key]
        if isinstance(entry, str) and ":" in entry:
            module, attr = entry.split(":", 1)
            entry = getattr(importlib.import_module(module), attr)
            self._entries[key] = entry
        return entry  # type: ignore[return-value]

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell wildcard, e.g. ``'adv*'``."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, self._norm(pattern)))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = self._norm(name)
        return self._aliases.get(key, key) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


Factory = Callable[..., Any]
