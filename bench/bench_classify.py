"""Classifier benchmark: throughput on ~100-character texts and time to first classification.

    python bench/bench_classify.py [--pack school] [--n 5000]

Uses shared/data/hz_liuyan.csv texts when present, otherwise the repo's eval texts.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HZ = ROOT / ".." / "shared" / "data" / "hz_liuyan.csv"

_COLD = """
import time, sys
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from bot.packs import load_pack
import nlp
lp = load_pack({pack!r})
clf = nlp.build_classifier(lp.pack, lp.dir)
clf.classify("食堂的饭菜里有虫子，孩子回家拉肚子")
print(time.perf_counter() - t0)
"""


def texts(limit: int) -> list[str]:
    out: list[str] = []
    if HZ.is_file():
        with HZ.open(encoding="utf-8") as fh:
            out = [(r["title"] + "。" + r["content"])[:100] for r in csv.DictReader(fh)]
    else:
        for f in sorted((ROOT / "tests" / "nlp" / "data").glob("*.jsonl")):
            out += [json.loads(x)["text"] for x in f.read_text(encoding="utf-8").splitlines() if x]
    while len(out) < limit:
        out += out
    return out[:limit]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default="hotline")
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import nlp
    from bot.packs import load_pack

    cold = [float(subprocess.run(
        [sys.executable, "-c", _COLD.format(root=str(ROOT), pack=args.pack)],
        capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    lp = load_pack(args.pack)
    clf = nlp.build_classifier(lp.pack, lp.dir)
    sample = texts(args.n)
    clf.classify(sample[0])
    t = time.perf_counter()
    for s in sample:
        clf.classify(s)
    elapsed = time.perf_counter() - t
    avg_len = sum(map(len, sample)) / len(sample)
    print(f"pack {args.pack}: {len(sample)} texts of {avg_len:.0f} chars in {elapsed:.2f} s "
          f"= {len(sample) / elapsed:,.0f} classifications/s (one core)")
    print(f"first classification after process start: {min(cold):.2f} s (best of 3), "
          f"{max(cold):.2f} s worst")


if __name__ == "__main__":
    main()
