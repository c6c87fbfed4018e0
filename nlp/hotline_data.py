"""Training records for the `hotline` pack from the public message-board data in ../shared/data.

The posts themselves are not in this repository (no licence to redistribute them): the pack
keeps only row numbers and labels (`packs/hotline/labels/fj4.csv` for teddy_fj4_replies.csv,
`labels/hz.csv` for hz_liuyan.csv, every post labelled twice by hand after `labels/GUIDE.md`,
`label` and `label2`; the 3.5% on which the two differ are not trained on), and the texts are
read from the CSV files when the keywords are learned again. `packs/hotline/
training.jsonl` holds text written by engineers after the same guide: board-style posts (with
`item`, the taxonomy entry) for every third-level item and for the classes the boards rarely
see, and short complaints as people type them to the bot (no title); they are trained on but
never scored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path

from nlp.learn import Options
from nlp.records import Record, read_records

# source file -> (label file, text column, title column)
SOURCES = {
    "teddy_fj4_replies.csv": ("fj4.csv", "留言详情", "留言主题"),
    "hz_liuyan.csv": ("hz.csv", "content", "title"),
}


def labelled_rows(label_files: Iterable[Path], agreed_only: bool = False) -> dict[int, str]:
    """row number (0-based, header not counted) -> label, from `row,label[,label2]` CSV files.

    `label2` is a second, independent annotation after the same guide; with `agreed_only` a
    row whose two annotations differ is left out (a disputed post teaches the model nothing
    the annotators agree on)."""
    out: dict[int, str] = {}
    for path in label_files:
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                label, second = row["label"].strip(), (row.get("label2") or "").strip()
                if agreed_only and second and second != label:
                    continue
                out[int(row["row"])] = label
    return out


def _clean(value: str | None) -> str:
    return " ".join((value or "").replace("_x000D_", " ").split())


def labelled_records(
    source: Path, labels: dict[int, str], text_col: str, title_col: str,
    skip: Iterable[int] = (), max_chars: int = 0,
) -> list[Record]:
    """Records of the rows of `source` that have a label, the text cut to `max_chars`
    (0: whole), in row order."""
    skipped = set(skip)
    records = []
    with source.open(encoding="utf-8-sig") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            label = labels.get(i)
            if label is None or i in skipped:
                continue
            text, title = _clean(row.get(text_col)), _clean(row.get(title_col))
            records.append(Record(text=text[:max_chars] if max_chars > 0 else text, label=label,
                                  title=title or None))
    return records


def main() -> None:
    """Rebuild packs/hotline/keywords.yaml: `python -m nlp.hotline_data [SHARED_DATA_DIR]`.

    Trains on the hand-labelled fj4 and hz posts (5-fold accuracy is measured on both, and
    reported per source), then reports the accuracy on the separately labelled holdout posts,
    which are never trained on.
    """
    import json
    import sys

    from bot.packs import load_pack
    from nlp.classifier import KeywordClassifier
    from nlp.keywords import dump_keyword_file, load_keyword_file
    from nlp.learn import learn
    from nlp.runtime import pack_tokenizer

    root = Path(__file__).resolve().parents[1]
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data"
    pack = load_pack("hotline")
    holdout = [json.loads(line) for line in (root / "tests/nlp/data/holdout_hotline_fj4.jsonl")
               .read_text(encoding="utf-8").splitlines() if line.strip()]
    skip = {"teddy_fj4_replies.csv": [h["row"] for h in holdout]}
    parts: dict[str, list[Record]] = {}
    for source, (label_file, text_col, title_col) in SOURCES.items():
        labels = labelled_rows([pack.dir / "labels" / label_file], agreed_only=True)
        parts[source] = labelled_records(data / source, labels, text_col, title_col,
                                         skip.get(source, ()))
    records = [r for part in parts.values() for r in part]
    written = read_records(pack.dir / "training.jsonl", ["text"], "label", "title")
    report = learn(pack.pack, records, load_keyword_file(pack.dir), k=5, options=OPTIONS,
                   extra=written)
    clf = KeywordClassifier(pack.pack, report.keywords, pack_tokenizer(pack.pack, pack.dir))
    right = sum(clf.classify(h["text"], title=h["title"]).category == h["label"] for h in holdout)
    start, per_source = 0, []
    for source, part in parts.items():
        acc = report.accuracy_of(range(start, start + len(part)), records)
        per_source.append(f"{source} {len(part)} posts {acc:.1%}")
        start += len(part)
    header = (
        f"Keywords of pack hotline, learned by nlp.hotline_data from {len(records)} message-board\n"
        "posts labelled twice by hand after labels/GUIDE.md, the two annotations agreeing\n"
        "(labels/*.csv hold row numbers and labels; the texts stay in ../shared/data).\n"
        "5-fold held-out accuracy "
        f"{report.accuracy:.1%} (top-3 {report.top3:.1%}):\n"
        + "".join(f"- {line}\n" for line in per_source)
        + f"Plus {len(written)} written texts (training.jsonl), trained on, never scored.\n"
        f"On the {len(holdout)} holdout posts, never trained on: {right / len(holdout):.1%}.\n"
        f"Options: {options_text(OPTIONS)}.\n"
        "Review freely: delete words that make no sense, or add hints under `seeds:`."
    )
    dump_keyword_file(report.keywords, pack.dir / "keywords.yaml", header=header)
    print(header)
    for cat, (ok, n) in sorted(report.per_category.items(), key=lambda kv: -kv[1][1]):
        print(f"  {cat}: {ok}/{n} ({ok / n:.0%})")
    for (lo, hi), (ok, n) in sorted(report.reliability.items()):
        print(f"  confidence {lo:.2f}-{hi:.2f}: {ok / n:.0%} right ({n})")
    print(f"short texts (held-out titles alone), temperature {report.keywords.temperature_short}:")
    for (lo, hi), (ok, n) in sorted(report.reliability_short.items()):
        print(f"  confidence {lo:.2f}-{hi:.2f}: {ok / n:.0%} right ({n})")


def options_text(options: Options) -> str:
    default = Options()
    return ", ".join(f"{f.name} {getattr(options, f.name)}" for f in fields(Options)
                     if getattr(options, f.name) != getattr(default, f.name)) or "defaults"


# chosen by 5-fold accuracy on the labelled posts (bench/README_nlp.md)
OPTIONS = Options(l2=0.003, top_k=600, max_chars=600, balance=0.5, extra_weight=0.5)


if __name__ == "__main__":
    main()
