"""The `study` subcommand: the IMDB study over the model zoo -> one JSON file plus plotly HTML figures.

Everything it is given is checked before torch is imported or a model is loaded: the output path, the model
names (against the folder listing), that they share one vocabulary (their cards' hashes), the phrases
(against that vocabulary's file), the data folder and the files to merge.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tbptt_viz.cli.common import CLIError, even, positive_int, whole, writable_path
from tbptt_viz.core.checkpoint import VOCAB, available_models, check_model_name, read_card
from tbptt_viz.core.data import check_data_dir, load_imdb, seeded_subset
from tbptt_viz.core.text import UNK_ID, Vocab, tokenize
from tbptt_viz.experiments.study.defaults import NEGATIVE_PHRASE, POSITIVE_PHRASE, ZOO_ORDER


def _model_names(value: str | None) -> list[str]:
    if value is None:
        shipped = available_models()
        names = [n for n in ZOO_ORDER if n in shipped] + [n for n in shipped if n not in ZOO_ORDER]
        if not names:
            raise CLIError("no shipped models found; pass --models NAME_OR_FOLDER,...")
        return names
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise CLIError("--models is empty; give comma-separated model names or checkpoint folders")
    return names


def write_outputs(results: dict, out: Path) -> list[str]:
    """The JSON (with seeds pooled into regimes) and one HTML figure per measurement next to it."""
    from tbptt_viz.present import study_figures as figures_study
    from tbptt_viz.experiments.study.stats import with_regimes

    results = with_regimes(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    paths = []
    for kind, make in figures_study.FIGURES.items():
        path = out.parent / f"{out.stem.replace('imdb_', '')}_{kind}.html"
        make(results).write_html(path, include_plotlyjs="cdn")  # plotly.js from the CDN: small files
        paths.append(str(path))
    return paths


def _merge_parts(value: str) -> list[dict]:
    """The results files --merge names, each read and checked to be a study's JSON."""
    paths = [p.strip() for p in value.split(",") if p.strip()]
    if not paths:
        raise CLIError("--merge is empty; give comma-separated results files")
    parts = []
    for p in paths:
        try:
            part = json.loads(Path(p).read_text())
        except (OSError, ValueError) as e:
            raise CLIError(f"--merge {p!r} cannot be read as JSON ({getattr(e, 'strerror', None) or e})") from None
        if not isinstance(part, dict) or not isinstance(part.get("models"), dict):
            raise CLIError(f"--merge {p!r} is not a study's results file (no 'models' object)")
        parts.append(part)
    return parts


def check_plan(args, names: list[str]) -> None:
    """Refuse what cannot work before anything heavy is imported (see the module docstring)."""
    folders = [check_model_name(n) for n in names]
    vocab_hashes = set()
    for folder in folders:
        try:
            vocab_hashes.add(read_card(folder).get("vocab_sha256"))
        except Exception:  # noqa: BLE001 - loading the model reports an unreadable card in its own words
            vocab_hashes.add(None)
    if len(vocab_hashes) != 1:
        raise CLIError("the models do not share one vocabulary; study them in separate runs")
    try:
        vocab = Vocab.load(folders[0] / VOCAB)
    except (OSError, ValueError) as e:
        raise CLIError(f"{folders[0]}: unreadable {VOCAB} ({e})") from None
    for flag, phrase in (("--positive-phrase", args.positive_phrase), ("--negative-phrase", args.negative_phrase)):
        tokens = tokenize(phrase)
        unknown = [t for t, i in zip(tokens, vocab.encode(tokens)) if i == UNK_ID]
        if not tokens or unknown:
            raise CLIError(f"{flag} {phrase!r} must be non-empty words of the vocabulary; unknown: {unknown}")
    if args.ig_models is not None:
        ig = [n.strip() for n in args.ig_models.split(",") if n.strip()]
        stems = {Path(n).name for n in names}
        outside = [n for n in ig if n not in stems]
        if outside:
            raise CLIError(f"--ig-models {', '.join(outside)} not among the studied models ({', '.join(sorted(stems))})")
    check_data_dir(args.data_dir, ("test",))


def merged_parts(parts: list[dict]) -> dict:
    """One results file from runs on model subsets or measurement subsets: a model measured in several parts
    keeps the union of its measurements (a later part wins on a key both hold), and the settings and their
    notes are the union too, so an evidence-only run (memory, together) adds columns without re-running the rest."""
    results = {**parts[0], "models": {}}
    settings = {**parts[0].get("settings", {}), "notes": dict(parts[0].get("settings", {}).get("notes", {}))}
    for part in parts:
        for name, entry in part["models"].items():
            before = results["models"].get(name, {})
            results["models"][name] = {**before, **entry,
                                       "seconds": {**before.get("seconds", {}), **entry.get("seconds", {})}}
        extra = part.get("settings", {})
        settings.update({k: v for k, v in extra.items() if k != "notes" and k not in settings})
        settings["notes"].update({k: v for k, v in extra.get("notes", {}).items() if k not in settings["notes"]})
    results["settings"] = settings
    return results


def cmd_study(args) -> int:
    started = time.perf_counter()
    out = writable_path(args.out, suffix=".json")  # before any work
    if args.merge:
        parts = _merge_parts(args.merge)
    else:
        check_plan(args, _model_names(args.models))
    import torch

    from tbptt_viz.cli.engine import load_model
    from tbptt_viz.experiments.study import measure as study
    from tbptt_viz.experiments.study.report import markdown_tables
    from tbptt_viz.experiments.study.stats import regime_of

    if args.merge:
        results = merged_parts(parts)
        results["total_wall_time_s"] = round(sum(p.get("total_wall_time_s", 0) for p in parts), 1)
        paths = write_outputs(results, out)
        print(markdown_tables(json.loads(out.read_text())))
        print(f"\nmerged {len(parts)} parts into {out} and {', '.join(paths)}", file=sys.stderr)
        return 0
    models = {}
    for name in _model_names(args.models):
        model = load_model(name).float().eval()
        models[Path(name).name] = model
    vocabs = {m.vocab.itos for m in models.values()}
    if len(vocabs) != 1:
        raise CLIError("the models do not share one vocabulary; study them in separate runs")
    vocab = next(iter(models.values())).vocab
    rows = load_imdb("test", args.data_dir)
    rows = seeded_subset(rows, args.limit, args.seed)
    encoded = [vocab.encode(tokenize(r.text)) for r in rows]
    keep = [i for i, s in enumerate(encoded) if s]  # a review with no tokens has no prediction
    if not keep:
        raise CLIError("no non-empty reviews in the test split")
    encoded, labels = [encoded[i] for i in keep], [rows[i].label for i in keep]
    settings = study.StudySettings(plant_sample=args.plant_sample, attribution_sample=args.attribution_sample,
                                   ig_sample=args.ig_sample, positive_phrase=args.positive_phrase,
                                   negative_phrase=args.negative_phrase, seed=args.seed,
                                   memory_sample=args.memory_sample, memory_max_lag=args.memory_max_lag,
                                   together_sample=args.together_sample, together_samples=args.together_samples,
                                   together_repeats=args.together_repeats)
    for phrase in (args.positive_phrase, args.negative_phrase):
        study.encode_phrase(next(iter(models.values())), phrase)  # refuse unknown words before any work
    ig_models = [n for n in models if regime_of(n)[1] == 0] if args.ig_models is None else \
        [n.strip() for n in args.ig_models.split(",") if n.strip()]
    if args.dry_run:
        print(f"would study {', '.join(models)} on {len(encoded)} test reviews (integrated gradients: "
              f"{', '.join(ig_models) or 'none'}); settings {settings}")
        return 0
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    if args.evidence_only:
        return evidence_only(models, encoded, labels, settings, out, log, started)
    results = study.run_study(models, encoded, labels, settings, log, ig_models=ig_models)
    results["data"] = {"split": "test", "source": "the IMDB test split (--data-dir or the hub)",
                       "limit": args.limit, "empty_reviews_dropped": len(rows) - len(keep)}
    results["machine"] = args.machine or f"{torch.get_num_threads()} torch CPU threads, torch {torch.__version__}"
    results["total_wall_time_s"] = round(time.perf_counter() - started, 1)  # loading data and models included
    paths = write_outputs(results, out)
    print(markdown_tables(json.loads(out.read_text())))
    print(f"\nwrote {out} and {', '.join(paths)} in {results['total_wall_time_s']:.0f} s", file=sys.stderr)
    return 0


def evidence_only(models, encoded, labels, settings, out: Path, log, started: float) -> int:
    """Only issue 23's two measurements (memory span, words together): a quick JSON of their own, not a study."""
    import dataclasses

    from tbptt_viz.experiments.study.evidence import study_evidence
    from tbptt_viz.experiments.study.measure import CARD_FIELDS, plain

    results = {"settings": plain(dataclasses.asdict(settings)), "reviews": len(encoded), "models": {}}
    for name, model in models.items():
        log(f"== {name}")
        measured, seconds = study_evidence(model, encoded, labels, settings, lambda s: log(f"  {name}: {s}"))
        card = getattr(model, "card", {}) or {}
        results["models"][name] = plain({"card": {k: card.get(k) for k in CARD_FIELDS}, **measured,
                                          "seconds": seconds})
    results["total_wall_time_s"] = round(time.perf_counter() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"{'model':<20} {'K':>5} {'memory span':>12} {'together: exceeds':>18} {'clearly':>8} {'n':>4}")
    for name, m in results["models"].items():
        mem, tog = m.get("memory", {}), m.get("together", {})
        nan = float("nan")
        print(f"{name:<20} {str(mem.get('training_window')):>5} {str(mem.get('span')):>12} "
              f"{tog.get('exceeds_fraction', nan):>18.2f} {tog.get('exceeds_clearly_fraction', nan):>8.2f} "
              f"{tog.get('n', 0):>4}")
    print(f"\nwrote {out} in {results['total_wall_time_s']:.0f} s", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("study", help="the IMDB study: accuracy by length, planted phrases, context use, attribution")
    p.add_argument("--data-dir", help="folder with test.jsonl[.gz] (else $TBPTT_VIZ_DATA_DIR, else the hub)")
    p.add_argument("--out", required=True, help="JSON file to write, e.g. results/imdb_study.json; "
                                                "figures go next to it as study_*.html")
    p.add_argument("--models", help="comma-separated shipped model names or checkpoint folders (default: all shipped)")
    p.add_argument("--limit", type=positive_int, help="use a seeded random N test reviews (default: all)")
    p.add_argument("--plant-sample", type=positive_int, default=1000,
                   help="balanced sample for planted phrases and context use (default 1000)")
    p.add_argument("--attribution-sample", type=positive_int, default=200,
                   help="balanced sample of 100-500 token reviews for attribution shares (default 200)")
    p.add_argument("--positive-phrase", default=POSITIVE_PHRASE,
                   help=f"planted positive phrase, words of the vocabulary (default {POSITIVE_PHRASE!r})")
    p.add_argument("--negative-phrase", default=NEGATIVE_PHRASE,
                   help=f"planted negative phrase (default {NEGATIVE_PHRASE!r})")
    p.add_argument("--ig-sample", type=whole(0, 10_000), default=100,
                   help="integrated gradients on the first N reviews of the attribution sample (default 100)")
    p.add_argument("--ig-models", help="comma-separated models that get integrated gradients (default: seed 0 ones)")
    p.add_argument("--merge", help="comma-separated results files of earlier runs (model subsets) to merge into "
                                   "--out, pooling seeds; computes nothing else")
    p.add_argument("--seed", type=whole(0, 2**31 - 1), default=0, help="seed for every sample (default 0)")
    p.add_argument("--machine", help="a note on the machine, stored in the JSON")
    p.add_argument("--memory-sample", type=whole(0, 10_000), default=50,
                   help="memory span: reviews longer than --memory-max-lag from the planted sample (0: skip; default 50)")
    p.add_argument("--memory-max-lag", type=whole(1, 2000), default=500,
                   help="memory span: lags followed from each source word (default 500)")
    p.add_argument("--together-sample", type=whole(0, 10_000), default=50,
                   help="opening sentence's Shapley value vs occlusion: first N attribution reviews (0: skip; "
                        "default 50)")
    p.add_argument("--together-samples", type=even(2, 1000), default=2,
                   help="Shapley permutations per repeat, even (default 2)")
    p.add_argument("--together-repeats", type=whole(2, 1000), default=8, help="Shapley repeats (default 8)")
    p.add_argument("--evidence-only", action="store_true",
                   help="run only the memory span and the words-together measurement (quick; writes its own JSON)")
    p.add_argument("--dry-run", action="store_true", help="load models and data, print the plan, compute nothing")
    p.set_defaults(func=cmd_study)
