"""The base the engine's action modules (intake, staff, complainant) build on: the engine
itself for the type checker, a plain object at run time (they are mixins of DialogEngine)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.dialogs.engine import DialogEngine

    EngineMixin = DialogEngine
else:
    EngineMixin = object
