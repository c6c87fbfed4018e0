"""Reading past complaint records (CSV, XLSX or JSON lines) for learning."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Record:
    text: str
    label: str
    title: str | None = None


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        import json

        with path.open(encoding="utf-8-sig") as fh:
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    yield {str(k): "" if v is None else str(v) for k, v in obj.items()}
        return
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        ws = wb.active
        if ws is None:
            return
        it = ws.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(it, ())]
        for row in it:
            yield {h: "" if v is None else str(v) for h, v in zip(header, row, strict=False)}
        wb.close()
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            yield from csv.DictReader(fh)


def read_records(
    path: Path,
    text_cols: Sequence[str],
    label_col: str,
    title_col: str | None = None,
    label_map: Mapping[str, str] | None = None,
) -> list[Record]:
    """Records with a non-empty text and label; labels mapped through `label_map` when given
    (labels the map does not know are dropped)."""
    out: list[Record] = []
    for row in _rows(Path(path)):
        missing = [c for c in (*text_cols, label_col) if c not in row]
        if missing:
            raise KeyError(f"column(s) not in {path}: {', '.join(missing)}")
        label = (row.get(label_col) or "").strip()
        if label_map is not None:
            label = label_map.get(label, "")
        text = "\n".join((row.get(c) or "").strip() for c in text_cols).strip()
        title = (row.get(title_col) or "").strip() if title_col else None
        if label and (text or title):
            out.append(Record(text=text, label=label, title=title or None))
    return out
