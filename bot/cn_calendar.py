"""The Chinese public-holiday calendar (statutory holidays and 调休 workdays) for core.

Backed by the `chinese_calendar` package, imported on first use only.
"""

from __future__ import annotations

import importlib
from datetime import date
from types import ModuleType


class ChineseOfficialCalendar:
    """Implements core.cases.workcal.OfficialCalendar; None for years the package doesn't know."""

    def __init__(self) -> None:
        self._module: ModuleType | None = None

    def _lib(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module("chinese_calendar")
        return self._module

    def is_workday(self, day: date) -> bool | None:
        try:
            return bool(self._lib().is_workday(day))
        except NotImplementedError:  # the package has no data for this year
            return None
