"""Personal data inside free text: phone numbers, ID-card numbers, e-mail, addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PiiSpan:
    kind: str  # "phone" | "id_card" | "email" | "address"
    start: int
    end: int
    text: str


_ID = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9A-Za-z])"
)
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(?:\(?0\d{2,3}\)?[- ]?)\d{7,8}(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_HAN = r"(?:(?![我你他她们在住是的了到和从去来说把被给向也就都还这那个])[\u4e00-\u9fff])"
_NUM = r"[0-9一二三四五六七八九十百零〇A-Za-z*-]"
_UNIT = (
    rf"(?:{_HAN}{{2,6}}(?:省|自治区)|{_HAN}{{2,6}}(?:市|自治州)|{_HAN}{{1,6}}(?:区|县|旗)"
    rf"|{_HAN}{{1,8}}(?:街道|镇|乡)|(?:{_HAN}|\d){{1,10}}?(?:大道|大街|路|街|巷|弄|胡同)"
    rf"|{_HAN}{{2,10}}?(?:小区|花园|公寓|大厦|家园|新村|村|苑|府|广场)"
    rf"|{_NUM}{{1,6}}(?:号院|号楼|号|栋|幢|座|单元|楼|层|室|户))"
)
_ADDRESS = re.compile(rf"{_UNIT}(?:[ ,，]?{_UNIT})+(?:\d{{1,5}}(?:室|号)?(?![0-9]))?")
_FINE = re.compile(r"路|街|巷|弄|号|栋|幢|单元|室|小区|村|苑|府|花园|公寓|大厦")
_REGION_END = re.compile(r"(?:省|自治区|市|自治州|区|县|旗)")
_REGION_UNIT = re.compile(rf"^(?:{_HAN}{{1,6}}?(?:省|自治区|市|自治州|(?<!小)区|县|旗))+")


def _id_checksum_ok(number: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in taken)


def find_pii(text: str) -> list[PiiSpan]:
    """Spans of personal data, in text order; overlapping finds keep the first kind found
    (ID cards before phones before e-mail before addresses)."""
    found: list[PiiSpan] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, m: re.Match[str]) -> None:
        if not _overlaps(m.span(), taken):
            found.append(PiiSpan(kind, m.start(), m.end(), m.group(0)))
            taken.append(m.span())

    for m in _ID.finditer(text):
        if _id_checksum_ok(m.group(0)):
            add("id_card", m)
    for m in _MOBILE.finditer(text):
        add("phone", m)
    for m in _LANDLINE.finditer(text):
        add("phone", m)
    for span in _phonenumbers_spans(text):
        if not _overlaps(span, taken):
            found.append(PiiSpan("phone", span[0], span[1], text[span[0] : span[1]]))
            taken.append(span)
    for m in _EMAIL.finditer(text):
        add("email", m)
    for m in _ADDRESS.finditer(text):
        if _FINE.search(m.group(0)):
            add("address", m)
    return sorted(found, key=lambda s: s.start)


def _phonenumbers_spans(text: str) -> list[tuple[int, int]]:
    """Numbers phonenumbers recognises that the patterns above miss (odd separators)."""
    if sum(ch.isdigit() for ch in text) < 7:
        return []
    import phonenumbers

    spans = []
    for match in phonenumbers.PhoneNumberMatcher(text, "CN", leniency=phonenumbers.Leniency.VALID):
        spans.append((match.start, match.end))
    return spans


def _mask_digits(value: str, keep_start: int, keep_end: int) -> str:
    digits = [i for i, ch in enumerate(value) if ch.isalnum()]
    hide = set(digits[keep_start : len(digits) - keep_end])
    return "".join("*" if i in hide else ch for i, ch in enumerate(value))


def mask_span(span: PiiSpan) -> str:
    if span.kind == "phone":
        compact = re.sub(r"\D", "", span.text)
        if compact.startswith("86") and len(compact) == 13:
            compact = compact[2:]
        if len(compact) == 11 and compact.startswith("1"):
            return f"{compact[:3]}****{compact[-4:]}"
        area = re.match(r"\(?0\d{2,3}\)?[- ]?", span.text)
        return _mask_digits(span.text, len(re.sub(r"\D", "", area.group(0))) if area else 3, 4)
    if span.kind == "id_card":
        return f"{span.text[:4]}{'*' * 10}{span.text[-4:]}"
    if span.kind == "email":
        user, _, domain = span.text.partition("@")
        return f"{user[:1]}***@{domain}"
    region = _REGION_UNIT.match(span.text)
    kept = region.group(0) if region else ""
    return f"{kept}***"


def mask_pii(text: str) -> str:
    """The text with every personal-data span masked (addresses kept to the district)."""
    out: list[str] = []
    pos = 0
    for span in find_pii(text):
        out.append(text[pos : span.start])
        out.append(mask_span(span))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
