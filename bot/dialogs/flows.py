"""The conversations, declared as data: a flow is an ordered list of steps.

The engine (engine.py) asks each step's question, validates the answer by the step's kind,
stores it in the dialog state under the step's id and, after the last step, calls the flow's
finisher. Diagram of the intake flow: docs/intake.mmd.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Data = dict[str, Any]


@dataclass(frozen=True)
class Step:
    id: str
    prompt: str  # catalogue key of the question
    kind: str = "text"  # text | phone | multi | choice | category | department | int | confirm
    #                     | duplicate | when
    choices: tuple[tuple[str, str], ...] = ()  # (value, catalogue key of the label)
    max_len: int = 500
    min_len: int = 1
    skip_if: Callable[[Data], bool] | None = None
    request_contact: bool = False
    int_range: tuple[int, int] = (1, 60)


@dataclass(frozen=True)
class Flow:
    id: str
    steps: tuple[Step, ...]
    finish: str  # name of the engine's finisher method
    staff_only: bool = False

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def next_step(self, data: Data, after: str | None) -> Step | None:
        """The next step after `after` whose skip condition does not hold."""
        ids = [s.id for s in self.steps]
        start = 0 if after is None else ids.index(after) + 1
        for step in self.steps[start:]:
            if step.skip_if is None or not step.skip_if(data):
                return step
        return None


INTAKE = Flow("intake", (
    Step("name", "intake.ask_name", max_len=40,
         choices=(("anonymous", "intake.choice_anonymous"),)),
    Step("contact", "intake.ask_contact", kind="phone", request_contact=True,
         choices=(("chat_only", "intake.choice_chat_only"),),
         skip_if=lambda d: bool(d.get("anonymous"))),
    Step("target", "intake.ask_target", max_len=100),
    Step("grievance", "intake.ask_grievance", kind="multi", max_len=2000, min_len=4,
         choices=(("done", "intake.choice_done"),)),
    Step("request", "intake.ask_request", max_len=500),
    Step("category", "intake.ask_category", kind="category"),
    Step("duplicate", "intake.ask_duplicate", kind="duplicate",
         skip_if=lambda d: not d.get("duplicates")),
    Step("confirm", "intake.confirm", kind="confirm",
         choices=(("yes", "intake.choice_confirm"), ("restart", "intake.choice_restart"),
                  ("cancel", "intake.choice_cancel"))),
), finish="finish_intake")

SURVEY_REASON = Flow("survey_reason", (
    Step("reason", "survey.ask_reason", max_len=500),
), finish="finish_survey_reason")

RELAY = Flow("relay", (
    Step("text", "relay.ask_text", kind="multi", max_len=1000,
         choices=(("done", "relay.choice_send"),)),
), finish="finish_relay")

PROGRESS = Flow("progress", (
    Step("text", "staff.ask_progress", max_len=1000),
), finish="finish_progress", staff_only=True)

ASK = Flow("ask", (
    Step("text", "staff.ask_question", max_len=1000),
), finish="finish_ask", staff_only=True)

TRANSFER = Flow("transfer", (
    Step("department", "staff.ask_department", kind="department"),
    Step("reason", "staff.ask_transfer_reason", max_len=300),
), finish="finish_transfer", staff_only=True)

EXTEND = Flow("extend", (
    Step("days", "staff.ask_extension_days", kind="int",
         choices=(("3", "staff.days_3"), ("5", "staff.days_5"), ("7", "staff.days_7"))),
    Step("reason", "staff.ask_extension_reason", max_len=300),
), finish="finish_extend", staff_only=True)

RESOLVE = Flow("resolve", (
    Step("outcome", "staff.ask_outcome", kind="choice",
         choices=(("支持", "outcome.支持"), ("解释", "outcome.解释"),
                  ("不予支持", "outcome.不予支持"))),
    Step("text", "staff.ask_reply", max_len=2000),
), finish="finish_resolve", staff_only=True)

PROMISE = Flow("promise", (
    Step("when", "staff.ask_promise", kind="when"),
), finish="finish_promise", staff_only=True)

RECOMPLAIN = Flow("recomplain", (
    Step("text", "recomplain.ask", max_len=1000),
), finish="finish_recomplain")

WITHDRAW = Flow("withdraw", (
    Step("confirm", "withdraw.ask", kind="choice",
         choices=(("yes", "withdraw.choice_yes"), ("no", "withdraw.choice_no"))),
), finish="finish_withdraw")

NOT_ACCEPT = Flow("not_accept", (
    Step("reason", "staff.ask_not_accept_reason", max_len=300),
), finish="finish_not_accept", staff_only=True)

REFUSE_EXTENSION = Flow("refuse_extension", (
    Step("reason", "manager.ask_refuse_reason", max_len=300),
), finish="finish_refuse_extension", staff_only=True)

FLOWS: dict[str, Flow] = {f.id: f for f in (
    INTAKE, SURVEY_REASON, RELAY, PROGRESS, ASK, TRANSFER, EXTEND, RESOLVE, NOT_ACCEPT,
    REFUSE_EXTENSION, PROMISE, RECOMPLAIN, WITHDRAW,
)}

# Staff actions offered on a case card: (verb, catalogue key, flow or None for immediate)
STAFF_ACTIONS: tuple[tuple[str, str, str | None], ...] = (
    ("accept", "staff.action_accept", None),
    ("progress", "staff.action_progress", "progress"),
    ("ask", "staff.action_ask", "ask"),
    ("transfer", "staff.action_transfer", "transfer"),
    ("promise", "staff.action_promise", "promise"),
    ("extend", "staff.action_extend", "extend"),
    ("resolve", "staff.action_resolve", "resolve"),
    ("evidence", "staff.action_evidence", None),
    ("reject", "staff.action_not_accept", "not_accept"),
)
