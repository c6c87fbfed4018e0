"""Message catalogues: every text a user reads lives in bot/dialogs/messages/<locale>.yaml."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
_DIR = Path(__file__).resolve().parent / "dialogs" / "messages"


def normalise_language(code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Map a platform language code ("en-US", "zh-hans", "zh_CN") to a catalogue locale."""
    if not code:
        return default
    code = code.lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-CN"
    if code.startswith("en"):
        return "en"
    return default


@cache
def _load(locale: str) -> dict[str, str]:
    data = yaml.safe_load((_DIR / f"{locale}.yaml").read_text(encoding="utf-8")) or {}
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = str(node).rstrip("\n")

    walk("", data)
    return flat


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Catalogue:
    """Looks texts up by key: the pack's overrides first, then the locale, then zh-CN."""

    def __init__(self, overrides: dict[str, dict[str, str]] | None = None) -> None:
        self.overrides = overrides or {}

    def has(self, key: str, locale: str = DEFAULT_LOCALE) -> bool:
        return key in _load(locale) or key in _load(DEFAULT_LOCALE)

    def t(self, locale: str, key: str, **params: Any) -> str:
        locale = locale if locale in LOCALES else DEFAULT_LOCALE
        text = (self.overrides.get(locale, {}).get(key) or _load(locale).get(key)
                or _load(DEFAULT_LOCALE).get(key))
        if text is None:
            raise KeyError(f"message {key!r} is missing from the catalogue")
        return Formatter().vformat(text, (), _Defaulting(params))

    @staticmethod
    def keys(locale: str) -> set[str]:
        return set(_load(locale))
