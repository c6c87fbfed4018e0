"""`tousu classify` and `tousu nlp learn|suggest`: the routing intelligence on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

nlp_app = typer.Typer(help="Keyword learning and suggestions for a pack's classifier.",
                      no_args_is_help=True)


def _load(pack: str) -> Any:
    from bot.packs import load_pack

    try:
        return load_pack(pack)
    except Exception as exc:  # noqa: BLE001 - shown to the user
        typer.echo(f"Pack error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _result(res: Any) -> dict[str, Any]:
    return {
        "category": res.category,
        "department": res.department,
        "confidence": res.confidence,
        "keywords": list(res.keywords),
        "ranking": [{"category": r.category, "score": r.score} for r in res.ranking[:5]],
        "signals": [
            {"kind": s.kind, "tier": s.tier, "keyword": s.keyword,
             "response_minutes": s.response_minutes} for s in res.signals
        ],
        "department_from_target": res.department_from_target,
    }


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def classify(
    text: Annotated[Optional[str], typer.Argument(help="The complaint text.")] = None,
    pack: Annotated[str, typer.Option(help="Pack name or directory.")] = "school",
    title: Annotated[Optional[str], typer.Option(help="Title / first message.")] = None,
    target: Annotated[Optional[str], typer.Option(help="Whom or what it is about.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    jsonl: Annotated[bool, typer.Option(
        "--jsonl", help="Read one text (or JSON object with text/title/target) per stdin line; "
        "JSON lines out.")] = False,
) -> None:
    """Suggest a category and department for a complaint text."""
    from nlp import LOW_CONFIDENCE, build_classifier

    loaded = _load(pack)
    clf = build_classifier(loaded.pack, loaded.dir)
    if jsonl:
        out = sys.stdout
        for line in sys.stdin:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            t, ti, tg = line, None, None
            if line.lstrip().startswith("{"):
                obj = json.loads(line)
                t, ti, tg = obj.get("text", ""), obj.get("title"), obj.get("target")
            out.write(_dumps(_result(clf.classify(t, title=ti, target=tg))) + "\n")
        return
    if text is None:
        typer.echo("Give a TEXT or --jsonl.", err=True)
        raise typer.Exit(2)
    res = clf.classify(text, title=title, target=target)
    if as_json:
        typer.echo(_dumps(_result(res)))
        return
    typer.echo(f"category:   {res.category or '-'}  ({res.confidence:.0%})")
    typer.echo(f"department: {res.department or '-'}"
               + ("  (from the target)" if res.department_from_target else ""))
    typer.echo(f"why:        {'、'.join(res.keywords) or '-'}")
    if res.confidence < LOW_CONFIDENCE:
        typer.echo("low confidence: offer " + "、".join(r.category for r in res.ranking[:3])
                   + " or 其它")
    for s in res.signals:
        extra = f", respond within {s.response_minutes} min" if s.response_minutes else ""
        typer.echo(f"signal:     {s.kind} {s.tier or ''} ({s.keyword}{extra})")


@nlp_app.command()
def learn(
    file: Annotated[Path, typer.Argument(help="Past complaints: .csv or .xlsx")],
    pack: Annotated[str, typer.Option(help="Pack name or directory.")],
    text_col: Annotated[list[str], typer.Option(help="Text column (repeat to join several).")],
    label_col: Annotated[str, typer.Option(help="Category column.")],
    title_col: Annotated[Optional[str], typer.Option(help="Title column (weighted more).")] = None,
    label_map: Annotated[Optional[Path], typer.Option(help="YAML: label -> category.")] = None,
    folds: Annotated[int, typer.Option(help="k for k-fold held-out accuracy.")] = 5,
    top_k: Annotated[int, typer.Option(help="Keywords kept per category.")] = 300,
    l2: Annotated[float, typer.Option(help="Ridge penalty (larger: smoother weights).")] = 5e-4,
    chars: Annotated[bool, typer.Option(help="Single characters as candidate keywords.")] = True,
    balance: Annotated[float, typer.Option(
        help="0: learn the records' category mix; up to 1: weigh rare categories up, for "
             "records whose mix is not the one the bot will see.")] = 0.0,
    output: Annotated[Optional[Path], typer.Option(help="Where to write (default: the pack's "
                                                   "keywords.yaml).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Report only, write nothing.")] = False,
) -> None:
    """Mine keywords and weights per category from past records; report k-fold accuracy."""
    import yaml

    from nlp.keywords import FILE_NAME, dump_keyword_file, load_keyword_file
    from nlp.learn import learn as run_learn
    from nlp.records import read_records

    loaded = _load(pack)
    mapping = None
    if label_map is not None:
        mapping = {str(k): str(v) for k, v in
                   (yaml.safe_load(label_map.read_text(encoding="utf-8")) or {}).items()}
    try:
        records = read_records(file, text_col, label_col, title_col, mapping)
    except KeyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    base = load_keyword_file(loaded.dir)
    from nlp.learn import Options

    opts = Options(top_k=top_k, l2=l2, chars=chars, balance=balance)
    report = run_learn(loaded.pack, records, base, k=folds, options=opts)
    typer.echo(f"{len(records)} records; {folds}-fold held-out top-1 accuracy "
               f"{report.accuracy:.1%}, top-3 {report.top3:.1%}")
    for cat, (ok, n) in sorted(report.per_category.items(), key=lambda kv: -kv[1][1]):
        typer.echo(f"  {cat:<10} {ok:>4}/{n:<4} {ok / n:.0%}")
    for (gold, got), n in report.confusions.most_common(5):
        typer.echo(f"  confused: {gold} -> {got}: {n}")
    typer.echo(f"calibration (held out, temperature {report.keywords.temperature}):")
    for (lo, hi), (ok, n) in sorted(report.reliability.items()):
        typer.echo(f"  confidence {lo:.2f}-{hi:.2f}: {ok}/{n} right ({ok / n:.0%})")
    if report.reliability_short:
        typer.echo("short texts (held-out titles alone or short records), temperature "
                   f"{report.keywords.temperature_short}:")
        for (lo, hi), (ok, n) in sorted(report.reliability_short.items()):
            typer.echo(f"  confidence {lo:.2f}-{hi:.2f}: {ok}/{n} right ({ok / n:.0%})")
    if dry_run:
        return
    path = output or loaded.dir / FILE_NAME
    dump_keyword_file(report.keywords, path, header=(
        f"Keywords of pack {loaded.pack.id}, learned by `tousu nlp learn` from {file.name}\n"
        f"({len(records)} records; {folds}-fold held-out accuracy {report.accuracy:.1%}).\n"
        "Weights are those of a logistic regression over keyword hits (a keyword hits anywhere\n"
        "in the text; title / first sentence count more); bias is the category's intercept.\n"
        "Review freely: delete words that make no sense, or add hints under `seeds:` and run\n"
        "`tousu nlp learn` again (seeds are learned from, synonyms and stopwords are kept)."))
    typer.echo(f"written: {path}")


@nlp_app.command()
def suggest(
    pack: Annotated[str, typer.Option(help="Pack name or directory.")],
    samples: Annotated[Path | None, typer.Option(
        help="JSONL with {text, predicted, corrected}; default: the corrections and transfers "
             "recorded in the database.")] = None,
    min_support: Annotated[int, typer.Option(help="Samples needed per suggestion.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines out.")] = False,
) -> None:
    """Propose keyword changes from corrections by complainants and transfers by staff."""
    from nlp.feedback import FeedbackSample, suggest_keywords

    loaded = _load(pack)
    items = []
    if samples is None:
        from bot.bootstrap import build_app
        from bot.feedback import feedback_from_cases

        app = build_app(pack=pack)
        with app.uow() as uow:
            cases = uow.cases.load_many(uow.cases.list_rows(limit=100_000))
        items = [FeedbackSample(t, p, c) for t, p, c in feedback_from_cases(app.pack, cases)]
        if not as_json:
            typer.echo(f"{len(items)} correction(s) and transfer(s) on record")
    else:
        with samples.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    items.append(FeedbackSample(obj["text"], obj.get("predicted"),
                                                obj["corrected"]))
    result = suggest_keywords(loaded.pack, items, loaded.dir, min_support=min_support)
    for s in result:
        if as_json:
            typer.echo(_dumps(s.__dict__))
        else:
            sign = "+" if s.action == "add" else "-"
            typer.echo(f"{sign} {s.category}: {s.keyword} ({s.weight}) — {s.reason}")
    if not result and not as_json:
        typer.echo("no suggestions")


def register(app: typer.Typer) -> None:
    """Add `classify` and the `nlp` sub-app to the main CLI."""
    app.command(name="classify")(classify)
    app.add_typer(nlp_app, name="nlp")
