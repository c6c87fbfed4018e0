"""Severity signals in free text (DOMAIN.md §3): media, legal action, collective complaints,
injuries, and on-site emergencies that need a 30-minute / 1-hour response."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.routing.classifier import SeveritySignal
from nlp.tokenizer import normalize

HOT = "热点"
MAJOR = "重大"
IMPORTANT = "重要"
TIER_ORDER = ("一般", IMPORTANT, HOT, MAJOR)


@dataclass(frozen=True)
class _Rule:
    kind: str
    tier: str | None
    pattern: re.Pattern[str]
    response_minutes: int | None = None


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


_NEGATION = re.compile(
    r"(不会|不想|不要|没有|没|不用|无需|并未|未曾)[^，。,.!！?？]{0,3}$"
)
_PEOPLE = (
    r"(家长|业主|居民|患者|病人|村民|群众|住户|员工|职工|工人|学生家长)"
)
_CN_NUM = dict(zip("两二三四五六七八九十", (2, 2, 3, 4, 5, 6, 7, 8, 9, 10), strict=True))

# Order matters: for one kind, the first (most severe) rule that matches wins.
_RULES: tuple[_Rule, ...] = (
    _Rule("media", MAJOR, _rx(
        r"(已经|已)(被)?(媒体|记者|电视台|报纸|新闻)?(报道|曝光)", r"上了(新闻|电视|热搜|报纸)",
        r"(媒体|记者|电视台)(已经|已)(报道|曝光|介入|来)")),
    _Rule("media", HOT, _rx(
        r"媒体", r"曝光", r"记者", r"电视台", r"报社", r"上新闻", r"热搜",
        r"发(到)?(网上|微博|抖音|朋友圈)",
        r"舆论", r"网络(上)?(曝光|发帖)")),
    _Rule("legal", MAJOR, _rx(
        r"(已经|已)(向法院)?(起诉|提起诉讼|立案)", r"法院(已经|已)(受理|立案)",
        r"(正在|已在)(打官司|诉讼)",
        r"收到(了)?(法院)?(传票|起诉书)")),
    _Rule("legal", HOT, _rx(
        r"律师", r"起诉", r"法院", r"打官司", r"诉讼", r"告(你们|他们|到底)", r"法律途径", r"仲裁",
        r"追究(法律)?责任", r"报警")),
    _Rule("collective", MAJOR, _rx(
        r"([1-9]\d+|十|几十|数十|上百|好几十|一百)(多)?(名|位|个|户|家)?" + _PEOPLE,
        r"([1-9]\d+|几十|数十|上百)(多)?户", r"([1-9]\d+|几十|数十|上百)(多)?人(联名|集体|一起)",
        r"全体(家长|业主|居民|患者|村民|员工)")),
    _Rule("collective", HOT, _rx(
        r"联名", r"集体", r"多名", r"多位", r"多户", r"很多(家长|业主|居民|人)", r"大家(一起|都)",
        r"([3-9]|三|四|五|六|七|八|九|好几)(名|位|个|户|家)" + _PEOPLE,
        r"(家长|业主|居民|患者|村民)们")),
    _Rule("injury", MAJOR, _rx(r"死亡", r"去世", r"身亡", r"死了", r"抢救无效")),
    _Rule("injury", HOT, _rx(
        r"骨折", r"昏迷", r"重伤", r"抢救", r"缝了?[几\d一二三四五六七八九十]+针", r"ICU|icu",
        r"食物中毒", r"脑震荡")),
    _Rule("injury", IMPORTANT, _rx(
        r"受伤", r"摔伤", r"烫伤", r"咬伤", r"划伤", r"抓伤", r"流血", r"出血", r"缝针", r"淤青",
        r"红肿",
        r"磕破", r"伤口")),
    _Rule("emergency", None, _rx(
        r"火灾", r"着火", r"失火", r"起火", r"冒烟", r"(燃气|煤气|天然气)(泄漏|泄露|漏气|味)",
        r"漏气",
        r"(被)?困(在)?电梯", r"电梯(里)?困(人|住)", r"关在电梯", r"水管(爆裂|爆了)", r"爆管",
        r"跑水",
        r"(家里|屋里|楼道|地下室)(被)?淹"), 30),
    _Rule("urgent_onsite", None, _rx(
        r"停水", r"停电", r"断水", r"断电", r"没(有)?水(了|用)", r"没(有)?电(了|用)", r"停气",
        r"(燃气|煤气|天然气)(停|断|没)"), 60),
)


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - 6) : start]))


def _collective_size(keyword: str) -> int | None:
    m = re.match(r"(\d+)", keyword)
    if m:
        return int(m.group(1))
    return _CN_NUM.get(keyword[:1])


def find_signals(text: str) -> tuple[SeveritySignal, ...]:
    """Signals found in the text, at most one per kind (the most severe)."""
    norm = normalize(text)
    found: dict[str, SeveritySignal] = {}
    for rule in _RULES:
        if rule.kind in found:
            continue
        for m in rule.pattern.finditer(norm):
            if _negated(norm, m.start()):
                continue
            tier = rule.tier
            if rule.kind == "collective" and rule.tier == MAJOR:
                size = _collective_size(m.group(0))
                if size is not None and size < 10:
                    tier = HOT if size >= 3 else None
                    if tier is None:
                        continue
            found[rule.kind] = SeveritySignal(rule.kind, tier, m.group(0), rule.response_minutes)
            break
    return tuple(found.values())


def highest_tier(signals: tuple[SeveritySignal, ...]) -> str | None:
    """The highest tier the signals imply, or None."""
    tiers = [s.tier for s in signals if s.tier]
    return max(tiers, key=TIER_ORDER.index) if tiers else None
