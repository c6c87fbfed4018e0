"""Classifier benchmark: throughput on ~100-character texts and time to first classification.

    python bench/bench_classify.py [--pack school] [--n 5000] [--rounds 5] [--processes 5]

Instructions per classification, which do not depend on the machine's load (callgrind; the
difference of two runs divided by N):

    valgrind --tool=callgrind python bench/bench_classify.py --pack hotline --once 0
    valgrind --tool=callgrind python bench/bench_classify.py --pack hotline --once 1000

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


def throughput(pack: str, n: int, rounds: int) -> tuple[float, float]:
    """(median classifications/s over `rounds` warm rounds, average text length)."""
    sys.path.insert(0, str(ROOT))
    import nlp
    from bot.packs import load_pack

    lp = load_pack(pack)
    clf = nlp.build_classifier(lp.pack, lp.dir)
    sample = texts(n)
    for s in sample:  # one round not counted: a server runs warm (interpreter specialization)
        clf.classify(s)
    rates = []
    for _ in range(rounds):
        t = time.process_time()  # CPU time: what the process got on its one core
        for s in sample:
            clf.classify(s)
        rates.append(len(sample) / (time.process_time() - t))
    return sorted(rates)[len(rates) // 2], sum(map(len, sample)) / len(sample)


def once(pack: str, n: int) -> None:
    sys.path.insert(0, str(ROOT))
    import nlp
    from bot.packs import load_pack

    lp = load_pack(pack)
    clf = nlp.build_classifier(lp.pack, lp.dir)
    clf.classify("预热")  # the keyword automaton is built on the first lookup
    for s in texts(n) if n else ():
        clf.classify(s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default="hotline")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--processes", type=int, default=5)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--once", type=int, metavar="N",
                    help="load, classify N texts of 100 characters once, exit (for callgrind)")
    args = ap.parse_args()
    if args.once is not None:
        once(args.pack, args.once)
        return
    if args.child:
        rate, avg_len = throughput(args.pack, args.n, args.rounds)
        print(f"{rate} {avg_len}")
        return
    # One figure per fresh process: the same code runs up to 1.8x faster or slower from one
    # process to the next on this shared machine (memory placement, neighbours), so one
    # process proves little; the median over several does.
    per_process = []
    for _ in range(args.processes):
        out = subprocess.run(
            [sys.executable, __file__, "--pack", args.pack, "--n", str(args.n),
             "--rounds", str(args.rounds), "--child"],
            capture_output=True, text=True, check=True).stdout.split()
        per_process.append(float(out[0]))
        avg_len = float(out[1])
    cold = [float(subprocess.run(
        [sys.executable, "-c", _COLD.format(root=str(ROOT), pack=args.pack)],
        capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    rates = sorted(per_process)
    print(f"pack {args.pack}: {args.n} texts of {avg_len:.0f} chars, {args.processes} processes "
          f"x {args.rounds} rounds: median {rates[len(rates) // 2]:,.0f} classifications/s "
          f"per CPU second, one core (per process: {', '.join(f'{r:,.0f}' for r in rates)})")
    print(f"first classification after process start: {min(cold):.2f} s (best of 3), "
          f"{max(cold):.2f} s worst")


if __name__ == "__main__":
    main()
