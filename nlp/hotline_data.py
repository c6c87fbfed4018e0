"""Training records for the `hotline` pack from the public message-board data in ../shared/data.

The posts themselves are not in this repository (no licence to redistribute them): the pack
keeps only row numbers and labels (`packs/hotline/labels/*.csv`, hand-labelled), and the texts
are read from the CSV files when the keywords are learned again.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from nlp.records import Record


def labelled_rows(label_files: Iterable[Path]) -> dict[int, str]:
    out: dict[int, str] = {}
    for path in label_files:
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                out[int(row["row"])] = row["label"].strip()
    return out


def fj4_records(
    source: Path, labels: dict[int, str], skip: Iterable[int] = (), max_chars: int = 600
) -> list[Record]:
    """Records of teddy_fj4_replies.csv rows that have a label (title = 留言主题), the text
    cut to `max_chars` (0: whole)."""
    skipped = set(skip)
    records = []
    with source.open(encoding="utf-8-sig") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            label = labels.get(i)
            if label is None or i in skipped:
                continue
            text = " ".join((row.get("留言详情") or "").replace("_x000D_", " ").split())
            title = " ".join((row.get("留言主题") or "").split())
            records.append(Record(text=text[:max_chars] if max_chars > 0 else text, label=label,
                                  title=title or None))
    return records


def main() -> None:
    """Rebuild packs/hotline/keywords.yaml: `python -m nlp.hotline_data [SHARED_DATA_DIR]`.

    Trains on the hand-labelled fj4 rows (5-fold accuracy is measured on them) plus the hz
    posts mapped by label_map.yaml (trained on in every fold, never scored), and reports the
    accuracy on the separately hand-labelled holdout rows, which are never trained on.
    """
    import json
    import sys

    import yaml

    from bot.packs import load_pack
    from nlp.classifier import KeywordClassifier
    from nlp.keywords import dump_keyword_file, load_keyword_file
    from nlp.learn import Options, learn
    from nlp.records import read_records
    from nlp.runtime import pack_tokenizer

    root = Path(__file__).resolve().parents[1]
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data"
    pack = load_pack("hotline")
    label_map = yaml.safe_load((pack.dir / "label_map.yaml").read_text(encoding="utf-8"))
    hz = read_records(data / "hz_liuyan.csv", ["content"], "domain", "title", label_map)
    holdout = [json.loads(line) for line in (root / "tests/nlp/data/holdout_hotline_fj4.jsonl")
               .read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = labelled_rows(sorted((pack.dir / "labels").glob("fj4_*.csv")))
    # whole posts, scored whole in the folds; trained on their first 600 characters
    fj4 = fj4_records(data / "teddy_fj4_replies.csv", labels, skip=[h["row"] for h in holdout],
                      max_chars=0)
    options = Options(l2=0.003, chars=True, top_k=600, extra_weight=0.3, max_chars=600)
    report = learn(pack.pack, fj4, load_keyword_file(pack.dir), k=5, options=options, extra=hz)
    clf = KeywordClassifier(pack.pack, report.keywords, pack_tokenizer(pack.pack, pack.dir))
    right = sum(clf.classify(h["text"], title=h["title"]).category == h["label"] for h in holdout)
    header = (
        f"Keywords of pack hotline, learned by nlp.hotline_data from {len(fj4)} hand-labelled\n"
        f"teddy_fj4_replies.csv posts (labels/*.csv; texts stay in ../shared/data) plus {len(hz)}\n"
        f"hz_liuyan.csv posts (labels via label_map.yaml). 5-fold held-out accuracy on the fj4\n"
        f"rows {report.accuracy:.1%} (top-3 {report.top3:.1%}); on the 150 holdout posts, never\n"
        f"trained on, {right / len(holdout):.1%}. Options: l2 0.003, single characters, top 600,\n"
        "hz weight 0.3, trained on the first 600 characters of a post.\n"
        "Review freely: delete words that make no sense, or add hints under `seeds:`."
    )
    dump_keyword_file(report.keywords, pack.dir / "keywords.yaml", header=header)
    print(header)


if __name__ == "__main__":
    main()
