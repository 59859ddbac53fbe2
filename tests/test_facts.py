"""Each fact with its test: the factual sentences of the README, docs/*.md and the lessons, one entry each.

FACTS lists every sentence (or the part of it) that states a mechanism, a number or a precision, with where it
is stated and how it is known:

- `Fact(says, where, check)`: `check` recomputes the claim here, independently of the sentence (the shipped
  models, the committed JSON, the code's own settings), and fails when it is false;
- `Wording(says, where, why)`: a number that states nothing to check (a definition in a formula, a token's
  name), listed so that the coverage test below can tell it from a forgotten fact;
- `Measured(says, where, by)`: a speed or memory figure. Tests never assert wall-clock time, so the entry names
  the benchmark script that prints it (checked to exist) or, where there is none, the words in the same doc that
  say how it was measured (checked to be there).

Three tests use the list: each `says` is found in each `where` (whitespace and Markdown line breaks ignored);
each check passes; and every number in the docs' prose (outside generated blocks, code and links) lies inside
some registered `says`, so a new number cannot be added without its entry. Generated blocks are checked by
tests/test_docs.py; sentences made by tbptt_viz.present.sentences are checked here against the data.

To add a sentence the app states: make it a function in tbptt_viz/present/sentences.py, call it from the view,
and add a Fact whose check computes the same claim another way (`where` may be "lessons" for lesson text).
"""
from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tbptt_viz import gradient_flow, load_pretrained
from tbptt_viz.core.data import examples
from tbptt_viz.core.text import prepare_review

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/study.md", "docs/lab.md", "docs/design.md")
from tbptt_viz.experiments.study.measure import ZOO_ORDER as ZOO  # noqa: E402 - the zoo, in the study's order


@dataclass(frozen=True)
class Fact:
    says: str                     # the claim in the words the docs use
    where: tuple[str, ...]        # files that state it (paths from the repository root, or "lessons")
    check: Callable[[], None]     # recomputes the claim; AssertionError when it is false


@dataclass(frozen=True)
class Wording:
    says: str
    where: tuple[str, ...]
    why: str                      # a number that states no fact: a definition, a name, a symbol


@dataclass(frozen=True)
class Measured:
    says: str
    where: tuple[str, ...]
    by: str                       # scripts/...py that prints it, or the doc's own words on how it was measured


# ---------------------------------------------------------------------------------------------------------
# Sources, loaded once
# ---------------------------------------------------------------------------------------------------------
@lru_cache(None)
def model(name: str):
    return load_pretrained(name)


@lru_cache(None)
def study() -> dict:
    return json.loads((ROOT / "results" / "imdb_study.json").read_text())


@lru_cache(None)
def lab() -> dict:
    return json.loads((ROOT / "results" / "lab.json").read_text())


@lru_cache(None)
def lengths() -> dict:
    return json.loads((ROOT / "results" / "train_lengths.json").read_text())


@lru_cache(None)
def all_cards() -> dict[str, dict]:
    """Every model of the study: shipped cards (seed 0) and results/seeds/ (seeds 1, 2)."""
    out = {p.parent.name: json.loads(p.read_text()) for p in (ROOT / "pretrained").glob("*/card.json")}
    out.update({p.stem: json.loads(p.read_text()) for p in (ROOT / "results" / "seeds").glob("*.json")})
    return out


def review_ids(name: str, review_id: str) -> torch.Tensor:
    r = next(e for e in examples() if e.id == review_id)
    return torch.tensor(prepare_review(r.text, model(name).vocab).ids)


def text_of(where: str) -> str:
    """The words of a doc (or of every lesson), whitespace normalised, Markdown emphasis kept."""
    if where == "lessons":  # as the page shows them: each filled from its own review's tokens
        from tbptt_viz.present.lessons import LESSONS, filled

        shown = [filled(x, lesson_tokens(x)) for x in LESSONS]
        raw = " ".join(" ".join([x.title, x.explain, x.question, *x.options, x.hint, x.reveal]) for x in shown)
    else:
        raw = (ROOT / where).read_text()
    return " ".join(raw.split())


def autograd_input_grad_norms(m, ids: torch.Tensor, start: int, label: int) -> np.ndarray:
    """||dL/dx_t|| by plain float64 autograd: nn.LSTM copy, the state detached entering `start`, BCE at T-1."""
    lstm = copy.deepcopy(m.lstm).double()
    x = m.embedding.weight.detach().double()[ids].clone().requires_grad_(True)   # (T, E)
    zero = torch.zeros(1, 1, lstm.hidden_size, dtype=torch.float64)
    with torch.no_grad():
        h, c = lstm(x[None, :start])[1] if start > 0 else (zero, zero)
    out, _ = lstm(x[None, start:], (h.detach(), c.detach()))                     # (1, T - start, H)
    z = out[0, -1] @ m.head.weight.detach().double()[0] + m.head.bias.detach().double()[0]
    loss = F.binary_cross_entropy_with_logits(z, torch.tensor(float(label), dtype=torch.float64))
    (g,) = torch.autograd.grad(loss, x)
    return g.norm(dim=1).numpy()


def in_test(path: str, name: str, *contains: str, module: str = "") -> Callable[[], None]:
    """A claim about what a test does: the test exists (it runs in the suite), its source says `contains` and
    its module `module` (a setting it uses)."""
    def check():
        assert module in (ROOT / path).read_text()
        tree = ast.parse((ROOT / path).read_text())
        fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
        assert fn is not None, f"{path}::{name} is gone"
        src = ast.get_source_segment((ROOT / path).read_text(), fn)
        for c in contains:
            assert c in src, f"{path}::{name} no longer mentions {c!r}"
    return check


# ---------------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------------
def last_k_is_exactly_zero_before_the_window_and_autograd_inside():
    for name in ("imdb-last-k30", "imdb-full"):
        ids = review_ids(name, "love-then-plot")
        T = len(ids)
        gf = gradient_flow(model(name), ids, scheme="last-k", k=30)
        assert T > 200 and np.all(gf.input_grad_norm[: T - 30] == 0.0)          # exactly 0.0, not small
        assert np.all(gf.input_grad_norm[T - 30:] > 0)
        ref = autograd_input_grad_norms(model(name), ids, T - 30, gf.label_used)
        np.testing.assert_allclose(gf.input_grad_norm, ref, rtol=1e-7, atol=0)


def chunked_reaches_the_opening_from_the_first_chunk():
    ids = review_ids("imdb-chunked-k30", "love-then-plot")
    gf = gradient_flow(model("imdb-chunked-k30"), ids, scheme="chunked", k=30)
    assert tuple(gf.windows[0]) == (29, 0) and gf.input_grad_norm[0] > 0
    assert np.all(gf.backprop_count == 1)                    # every token reached by exactly one loss


def k1k2_generalises_chunked():
    from tbptt_viz.core.schemes import make_scheme

    for T in (60, 90, 300):  # with k1 = k2 = K, TBPTT(k1, k2) is chunked whenever K divides T
        assert make_scheme("k1k2", k1=30, k2=30).windows(T) == make_scheme("chunked", 30).windows(T)
    assert make_scheme("k1k2", k1=30, k2=60).windows(300) != make_scheme("chunked", 30).windows(300)


def study_scope():
    s = study()
    seeds = {}
    for name in s["models"]:
        base, _, seed = name.partition("-seed")
        seeds.setdefault(base, set()).add(int(seed or 0))
    assert set(seeds) == set(ZOO) and len(ZOO) == 7 and all(seeds[r] == {0, 1, 2} for r in ZOO)
    assert s["reviews"] == 25_000 and s["data"]["split"] == "test" and s["data"]["limit"] is None
    assert all(m["accuracy"]["n"] == 25_000 and sum(m["accuracy"]["count"]) == 25_000 for m in s["models"].values())


def training_settings():
    cards = all_cards()
    assert set(cards) == set(study()["models"])
    for name, c in cards.items():
        tc = c["train_config"]
        assert (tc["epochs"], tc["lr"], tc["clip"], tc["embed_dropout"], tc["max_len"]) == (6, 2e-3, 1.0, 0.25, None)
        assert c["vocab_sha256"] == cards["imdb-full"]["vocab_sha256"]
    for name in ZOO:
        m = model(name)
        assert len(m.vocab.itos) == 20_000 and m.vocab.itos[:2] == ("<pad>", "<unk>")
        assert (m.embedding.embedding_dim, m.lstm.hidden_size) == (64, 128)


def regimes_listed():
    got = {(c["train_config"]["scheme"], c["train_config"]["k"], c["train_config"]["k1"], c["train_config"]["k2"])
           for c in all_cards().values()}
    assert got == {("full", None, None, None), ("last-k", 10, None, None), ("last-k", 30, None, None),
                   ("last-k", 100, None, None), ("chunked", 30, None, None), ("k1k2", None, 30, 60)}


def seed0_ships():
    shipped = {p.name for p in (ROOT / "pretrained").iterdir() if (p / "card.json").is_file()}
    assert shipped == set(ZOO) and all(json.loads((ROOT / "pretrained" / n / "card.json").read_text())["seed"] == 0
                                       for n in shipped)
    assert {p.stem for p in (ROOT / "results" / "seeds").glob("*.json")} == {f"{n}-seed{s}" for n in ZOO for s in (1, 2)}


def shipped_training_sentence():
    """The README's sentence from sentences.shipped_training, against the committed counts and the cards."""
    from tbptt_viz.present.sentences import shipped_training

    n = lengths()
    counts = {k: n[k]["count"] for k in ("shorter", "within", "longer")}
    assert sum(counts.values()) == n["reviews"] == 25_000 and n["band"] == [100, 300]
    assert sum(n["histogram"]["counts"]) == n["reviews"] and n["max"] >= n["histogram"]["edges"][-2]
    shipped = {k: c for k, c in all_cards().items() if "seed" not in k}
    for c in all_cards().values():  # every model: the whole training split, no length cap
        assert c["data"] == f"IMDB train split ({n['reviews']} reviews)" and c["train_config"]["max_len"] is None
    s = shipped_training(n, shipped)
    for key in counts:
        assert f"{100 * counts[key] / n['reviews']:.1f}%" in s
    assert "62.4%" in s and "28.6%" in s and "9.0%" in s and "2,739" in s and "no length cap" in s


def start_contrast_sentence_is_the_readmes():
    from tbptt_viz.present.sentences import start_contrast

    s = start_contrast(study())
    c = next(c for c in study()["comparisons"] if (c["a"], c["b"]) == ("imdb-last-k30", "imdb-full"))
    assert s and s in text_of(README) and f"{c['start_contrast']['a']['mean']:.3f}" in s
    assert s.endswith(f"over seeds: {c['start_contrast']['verdict']}, and negative in every seed pair.")
    assert start_contrast(None) == ""


def nothing_pickled_for_weights():
    for path in (ROOT / "tbptt_viz").rglob("*.py"):  # no call of torch.load anywhere in the package
        tree = ast.parse(path.read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "load"
                    and isinstance(n.value, ast.Name) and n.value.id == "torch"], path
    tree = ast.parse((ROOT / "tbptt_viz" / "core" / "checkpoint.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {"pickle", "dill", "joblib"} & imported and any("safetensors" in m for m in imported)
    assert not [p for p in (ROOT / "pretrained").rglob("*") if p.suffix in (".pt", ".pth", ".pkl", ".bin")]


def static_page_requests_nothing():
    from tbptt_viz.export.site import CSP

    html = (ROOT / "tbptt_viz" / "export" / "static" / "index.html").read_text()
    assert "/*CSP*/" in html and "<script>" not in html  # the policy is written in; every script is a file
    assert "default-src 'none'" in CSP and "connect-src 'none'" in CSP and "script-src 'self';" in CSP
    assert "unsafe-eval" not in CSP and "'unsafe-inline'" not in CSP.split("script-src")[1].split(";")[0]


def length_distribution_counts_tokens():
    from tbptt_viz.core.text import tokenize
    from tbptt_viz.experiments.train_lengths import length_distribution

    texts = ["good film .<br />bad plot", "word " * 99, "word " * 100, "word " * 300, "word " * 301]
    d = length_distribution(texts)
    assert [len(tokenize(t)) for t in texts] == [5, 99, 100, 300, 301]   # "<br />" dropped, "." a token
    assert (d["shorter"]["count"], d["within"]["count"], d["longer"]["count"]) == (2, 2, 1)
    assert (d["min"], d["max"], d["reviews"]) == (5, 301, 5) and sum(d["histogram"]["counts"]) == 5


def torch_pinned():
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().split()


def seven_lessons():
    from tbptt_viz.present.lessons import LESSONS

    assert len(LESSONS) == 7


def long_reviews_keep_their_end():
    from tbptt_viz.core.text import MAX_TOKENS

    vocab = model("imdb-full").vocab
    text = " ".join(["good"] * 10 + ["bad"] * 2_490)
    last, first = prepare_review(text, vocab), prepare_review(text, vocab, keep="first")
    assert MAX_TOKENS == 2_000 and len(last.ids) == len(first.ids) == 2_000
    good, bad = vocab.encode(["good", "bad"])
    assert list(last.ids) == [bad] * 2_000 and list(first.ids[:10]) == [good] * 10


def bad_input_exits_2(capsys=None):
    import contextlib
    import io

    from tbptt_viz import cli

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["predict", "--model", "imdb-full", "--text", "   "])
    assert code == 2 and err.getvalue().count("\n") == 1


def model_contract():
    for name in ZOO:
        m = model(name)
        assert m.embedding.padding_idx == 0 and m.vocab.itos[1] == "<unk>" and m.embedding.embedding_dim == 64
        assert (m.lstm.input_size, m.lstm.hidden_size, m.lstm.num_layers, m.lstm.batch_first) == (64, 128, 1, True)
        assert (m.head.in_features, m.head.out_features) == (128, 1)


def docker_user_and_port():
    text = (ROOT / "Dockerfile").read_text()
    assert "useradd -m -u 1000 user" in text and "USER user" in text and "EXPOSE 8501" in text


def pretrained_files_small():
    assert all(p.stat().st_size < 10 * 2**20 for p in (ROOT / "pretrained").rglob("*") if p.is_file())


def three_workers_and_long_reviews():
    from tbptt_viz.serving.jobs import LONG_REVIEW

    page = (ROOT / "tbptt_viz" / "ui" / "services.py").read_text()  # where the page creates its service
    assert re.search(r"ComputeService\(workers=3\b", page) and 'limits={"lab": 1}, shares={"long": 1}' in page
    assert LONG_REVIEW == 800
    from tbptt_viz.serving import jobs

    ids = tuple(range(2, 2002))
    first, *rest = jobs.occlusion_keys("m", ids)
    assert [jobs.kind_of(k) for k in (jobs.flow("m", ids), first)] == ["analysis"] * 2  # the first chart
    assert {jobs.kind_of(k) for k in rest} == {"long"} and jobs.kind_of(jobs.flow("m", ids[:800])) == "analysis"


def queue_bounds():
    import inspect

    from tbptt_viz.serving.service import ComputeService

    p = inspect.signature(ComputeService).parameters
    assert (p["max_queued"].default, p["max_owner"].default) == (512, 64)
    assert "max_queued" not in (ROOT / "tbptt_viz" / "ui" / "services.py").read_text()  # the app keeps them


def long_review_pieces():
    from tbptt_viz.attribution.probe import FIRST_PIECE, PIECE_ROW_STEPS, pieces

    assert FIRST_PIECE == 500 and PIECE_ROW_STEPS == 300_000
    plan = pieces(2000)
    assert plan[0] == (1500, 2000)
    assert all(hi - lo == 1 or sum(2000 - b for b in range(lo, hi)) <= 300_000 for lo, hi in plan[1:])


def live_and_cli_budgets():
    from tbptt_viz.experiments.lab.settings import CLI_BUDGET, LIVE_BUDGET

    assert LIVE_BUDGET == {"memory_mb": 192, "minutes": 1.5} and CLI_BUDGET == {"memory_mb": 1024, "minutes": 60.0}


def link_limits():
    """The README's link figures are link_limit.json's, and the app's own links stay under MAX_LINK_CHARS."""
    from tbptt_viz.present.params import MAX_LINK_CHARS

    link = json.loads((ROOT / "results" / "bench" / "link_limit.json").read_text())
    readme = text_of(README)
    assert MAX_LINK_CHARS == 8_000
    assert f"a query string of {link['longest_http_200_query_chars']:,} characters answers HTTP 200" in readme
    assert link["first_http_error"] == 400 if "first_http_error" in link and isinstance(
        link["first_http_error"], int) else True
    assert f"chromium opens {link['longest_http_200_query_chars'] - 4096:,} characters" in readme
    assert link["browser_4096_below_longest"] is True and link["browser_at_longest"] is not True
    assert link["streamlit"].startswith("1.67") if isinstance(link["streamlit"], str) else True


def cli_refusal_times():
    cli = json.loads((ROOT / "results" / "bench" / "cli.json").read_text())
    lo, hi = min(f["min_s"] for f in cli["figures"].values()), max(f["max_s"] for f in cli["figures"].values())
    base, torch_ = cli["baseline"]["python -c pass"], cli["baseline"]['python -c "import torch"']
    readme = text_of(README)
    assert f"at {lo:.2f}-{hi:.2f} s against {base['min_s']:.2f}-{base['max_s']:.2f} s for `python -c pass`" in readme
    assert f"{torch_['min_s']:.1f}-{torch_['max_s']:.1f} s for `python -c \"import torch\"`" in readme
    assert hi <= 1.5  # the bound


def memory_figures():
    memory = json.loads((ROOT / "results" / "bench" / "memory.json").read_text())
    assert f"peaked at {memory['peak_rss_mb']:.0f} MB" in text_of(README) and memory["peak_rss_mb"] <= 850
    assert not memory["errors"]


def soak_figures():
    """The README's soak paragraph is the committed run's (results/bench/soak.json), and that run is the one the
    issue asks for: at least ten sessions for 20 minutes, every kind of traffic, no error, the server's total
    PSS sampled every 30 s and within the 1 GB a small host gives the whole server; the paragraph says whether the
    peak is within the 800 MB goal or above it. (It states the memory trend as measured; it claims nothing
    about it, so nothing is asserted here.)"""
    from tbptt_viz.experiments import speed

    soak = json.loads((ROOT / "results" / "bench" / "soak.json").read_text())
    assert " ".join(speed.soak_text(soak).split()) in text_of(README)
    assert soak["minutes"] >= 20 and soak["sessions"] >= 10 and soak["errors"] == 0
    assert all(soak["by_kind"][kind]["requests"] > 0 for kind in speed.SOAK_KINDS)
    pss = [c["pss_mb"] for c in soak["memory_curve"]]
    assert max(pss) == soak["peak_pss_mb"] <= 1024 and len(pss) >= 2 * soak["minutes"]  # every 30 s
    said = "within" if soak["peak_pss_mb"] <= speed.SOAK_GOAL_MB else "above"
    assert f"({said} the goal of {speed.SOAK_GOAL_MB} MB;" in speed.soak_text(soak)


def mmap_threshold():
    from tbptt_viz.serving.memory import MMAP_THRESHOLD

    assert MMAP_THRESHOLD == 256 << 10


def result_cache():
    """The app's compute service keeps 64 MB of results (ui/services.py; read as text: ui imports streamlit)."""
    source = (ROOT / "tbptt_viz" / "ui" / "services.py").read_text()
    assert "cache_bytes=64 << 20" in source and source.count("ComputeService(") == 1


def soak_within_goal():
    from tbptt_viz.experiments import speed

    soak = json.loads((ROOT / "results" / "bench" / "soak.json").read_text())
    assert soak["minutes"] >= 20 and speed.SOAK_GOAL_MB == 800
    times = [c["t_s"] for c in soak["memory_curve"]]
    assert max(c["pss_mb"] for c in soak["memory_curve"]) <= speed.SOAK_GOAL_MB
    assert max(b - a for a, b in zip(times, times[1:])) <= 31 and times[-1] >= 60 * soak["minutes"]


def float32_tolerance():
    from tbptt_viz.serving.service import FLOAT32_ATOL, FLOAT32_RTOL, same_as_sequential

    assert (FLOAT32_ATOL, FLOAT32_RTOL) == (1e-5, 1e-5)
    assert same_as_sequential([10.0], [10.0 + 1e-4 - 1e-9]) and not same_as_sequential([10.0], [10.0 + 2e-4])


def arenas_capped_at_two():
    import inspect

    from tbptt_viz.serving import memory, service

    assert inspect.signature(memory.limit_malloc_arenas).parameters["n"].default == 2
    assert "limit_malloc_arenas()" in inspect.getsource(service)


def streamlit_config():
    text = (ROOT / ".streamlit" / "config.toml").read_text()
    assert 'fileWatcherType = "none"' in text and "postScriptGC = false" in text


def light_template_is_small():
    import plotly.graph_objects as go

    from tbptt_viz.present.figures import LIGHT

    white = go.Figure(go.Scatter(x=[1], y=[1]), layout=dict(template="plotly_white"))
    light = go.Figure(go.Scatter(x=[1], y=[1]))
    light.layout.template = LIGHT
    assert len(white.to_json()) - len(light.to_json()) > 6_000 and len(json.dumps(LIGHT)) < 500


def one_thread():
    assert study()["torch_threads"] == 1 and study()["machine"].startswith("1 torch CPU threads")


def interval_formulas():
    from scipy import stats as st

    from tbptt_viz.experiments.study.stats import t_interval

    x = [0.88, 0.9, 0.85]
    ci, t, s = t_interval(x), st.t.ppf(0.975, 2), np.std(x, ddof=1)
    assert ci["high"] - ci["mean"] == pytest.approx(t * s / np.sqrt(3))
    assert ci["prediction"]["high"] - ci["mean"] == pytest.approx(t * s * np.sqrt(1 + 1 / 3))


def one_time_in_four():
    from scipy import stats as st

    # no difference: each pair's sign is a fair coin; three of one sign (either) has probability 2 / 8
    assert st.binomtest(3, 3, 0.5).pvalue == pytest.approx(0.25)


def planted_phrases():
    s = study()["settings"]
    assert (s["positive_phrase"], s["negative_phrase"]) == ("simply wonderful and moving .", "simply awful and boring .")


def khandelwal_cited_in_code():
    from tbptt_viz.experiments.study import measure

    assert "https://arxiv.org/abs/1805.04623" in measure.__doc__ and "Khandelwal et al. 2018" in measure.__doc__


def attribution_sample():
    s = study()
    st_ = s["settings"]
    assert (st_["attribution_min_len"], st_["attribution_max_len"], st_["ig_sample"]) == (100, 500, 100)
    with_ig = {n for n, m in s["models"].items() if "integrated_gradients" in m["attribution"]}
    assert with_ig == set(ZOO)                                               # seed 0 of each regime
    assert all(s["models"][n]["attribution"]["integrated_gradients"]["n"] == 100 for n in with_ig)
    assert all(m["attribution"]["occlusion"]["n"] == 200 for m in s["models"].values())


def ig_tolerance():
    from tbptt_viz.attribution.methods import attribute

    ids = review_ids("imdb-chunked-k30", "short-brilliant")
    ig = attribute(model("imdb-chunked-k30"), ids, "integrated_gradients")
    assert ig.tolerance == pytest.approx(0.01 * abs(ig.target_change) + 0.01, rel=1e-9)


@lru_cache(None)
def default_example_attributions():
    from tbptt_viz.attribution.methods import attribute

    ids = review_ids("imdb-last-k30", "love-then-plot")
    return {m: attribute(model("imdb-last-k30"), ids, m) for m in ("occlusion", "integrated_gradients")}


def ig_and_occlusion_on_the_opening():
    a = default_example_attributions()
    share = {k: float(np.abs(v.scores[:30]).sum() / np.abs(v.scores).sum()) for k, v in a.items()}
    assert a["integrated_gradients"].converged
    assert share["integrated_gradients"] > 0.5 and share["occlusion"] < 0.1


def logit_jumps_on_the_default_example():
    from tbptt_viz.attribution.targets import window_target

    ids = review_ids("imdb-last-k30", "love-then-plot")
    values = window_target(model("imdb-last-k30"), ids, [(len(ids) - 1, 0)]).values(np.linspace(0.040, 0.043, 31))
    assert np.max(np.abs(np.diff(values))) > 5          # one step of 1e-4 in alpha holds a jump of more than 5


def lab_model_sizes_and_times():
    from tbptt_viz.experiments.lab.runs import LabConfig

    c = LabConfig()
    assert (c.embed, c.hidden) == (16, 32)
    rows = lab()["rows"]
    assert all((r["config"]["embed"], r["config"]["hidden"]) == (16, 32) for r in rows)
    times = [v for r in rows if r["config"].get("update", "per-review") == "per-review"
             for v in r["wall_time_s"]["values"]]
    assert 1 <= min(times) and max(times) <= 11 and lab()["machine"].split(", ")[1].startswith("1 torch thread")


def _lab_rule_pairs():
    """(per-chunk row, the per-review row with the same settings) for every per-chunk cell of the sweep."""
    rows = lab()["rows"]
    key = lambda r: json.dumps({k: v for k, v in r["config"].items() if k != "update"}, sort_keys=True)  # noqa: E731
    review = {key(r): r for r in rows if r["config"].get("update", "per-review") == "per-review"}
    return [(r, review[key(r)]) for r in rows if r["config"].get("update") == "per-chunk"]


def lab_update_rule_reaches_one():
    pairs = _lab_rule_pairs()
    assert len(pairs) == 8 and {c["config"]["scheme"] for c, _ in pairs} == {"chunked", "k1k2"}
    assert all(v == 1.0 for c, _ in pairs for v in c["test_accuracy"]["values"])


def lab_update_rule_speed():
    def epochs(k, rule):
        return [e for c, r in _lab_rule_pairs() if c["config"]["k"] == k or c["config"]["k1"] == k
                for e in (c if rule == "per-chunk" else r)["epochs_to_90"]]
    assert (min(epochs(10, "per-chunk")), max(epochs(10, "per-chunk"))) == (1, 2)
    assert (min(epochs(10, "per-review")), max(epochs(10, "per-review"))) == (2, 3)
    assert (min(epochs(30, "per-chunk")), max(epochs(30, "per-chunk"))) == (4, 15)
    assert (min(epochs(30, "per-review")), max(epochs(30, "per-review"))) == (2, 10)


def lab_sweep_times():
    added = lab()["added_runs"]
    assert round(lab()["wall_time_s"]) == 374 and len(lab()["rows"]) - sum(a["cells"] for a in added) == 35
    assert [(a["cells"], round(a["wall_time_s"])) for a in added] == [(8, 2734)]


def per_chunk_clip():
    from tbptt_viz.core.train import TrainConfig

    cards = [json.loads((ROOT / "pretrained" / n / "card.json").read_text()) for n in
             ("imdb-chunked-k30", "imdb-chunked-k30-per-chunk")]
    assert TrainConfig().clip == 1.0 and all(c["train_config"]["clip"] == 1.0 for c in cards)


def lab_tasks():
    from tbptt_viz.experiments.lab.runs import DEFAULT_SEQ_LEN, FILLER, SHORT_LENGTHS, LabConfig

    assert DEFAULT_SEQ_LEN == {"prefix": 100, "any-one": 20, "planted": 100} and len(set(FILLER)) == 36
    assert SHORT_LENGTHS == (5, 30) and LabConfig().clean_last == 10


def lab_settings():
    from tbptt_viz.core.train import TrainConfig
    from tbptt_viz.experiments.lab.runs import LabConfig

    c = LabConfig()
    assert (c.n_train, c.n_test, c.epochs, c.batch_size, c.lr, c.forget_bias) == (1000, 400, 20, 32, 0.003, 1.0)
    assert TrainConfig().clip == 1.0 and model("imdb-full").config.forget_bias == 1.0
    assert all(r["config"]["n_train"] == 1000 and r["config"]["epochs"] == 20 for r in lab()["rows"]
               if r["group"] == "prefix" and r["config"]["scheme"] != "full")


def lab_seed_statistics():
    assert lab()["seeds"] == [0, 1, 2]
    for r in lab()["rows"]:
        v = r["test_accuracy"]["values"]
        assert r["seeds"] == [0, 1, 2] and r["test_accuracy"]["std"] == pytest.approx(np.std(v, ddof=1))
        assert r["test_accuracy"]["min"] == min(v)


def lab_chance_is_half():
    from tbptt_viz.experiments.lab.runs import LabConfig, make_splits

    for task in ("prefix", "any-one", "planted"):
        for seed in (0, 1, 2):
            train, test = make_splits(LabConfig(task=task, seed=seed))
            assert np.mean(test.labels) == 0.5 and np.mean(train.labels) == 0.5


def any_one_task():
    from tbptt_viz.experiments.lab.runs import LAB_VOCAB, LabConfig, make_splits

    zero, one = LAB_VOCAB.encode(["0", "1"])
    train, test = make_splits(LabConfig(task="any-one", n_test=400))
    for split in (train, test):
        ones = np.array([sum(t == one for t in s) for s in split.ids])
        assert set(np.concatenate(split.ids)) <= {zero, one} and np.all(split.lengths() == 20)
        assert np.all(ones[split.labels == 1] == 1) and np.all(ones[split.labels == 0] == 0)
    assert np.all(train.position[train.labels == 1] < 20 - 10)                    # none in the last M = 10
    counts = np.bincount(test.position[test.labels == 1], minlength=20)
    assert counts.max() - counts.min() <= 1                                          # every position equally often


def short_examples_fit_the_window():
    from tbptt_viz.core.schemes import make_scheme
    from tbptt_viz.experiments.lab.runs import SHORT_LENGTHS

    assert SHORT_LENGTHS[1] <= 30  # K = 30: the whole short example is inside the last-K window
    # "i love this ...": the decisive word is token 1; inside the last 10 tokens only when T <= 11
    inside = [T for T in range(SHORT_LENGTHS[0], SHORT_LENGTHS[1] + 1)
              if make_scheme("last-k", 10).windows(T)[0][1] <= 1]
    assert max(inside) == 11


def full_bptt_can_stay_at_chance():
    row = next(r for r in lab()["rows"] if r["group"] == "prefix" and r["config"]["scheme"] == "full"
               and r["config"]["short_frac"] == 0 and r["config"]["forget_bias"] == 1.0)
    assert row["test_accuracy"]["max"] < 0.55 and row["train_accuracy"]["min"] > 0.9


def sweep_k_equals_t_is_zero():
    ids = review_ids("imdb-full", "love-then-plot")
    gf = gradient_flow(model("imdb-full"), ids, scheme="last-k", k=30)
    assert gf.sweep_relative_error[-1] == 0.0 and gf.sweep_relative_error[-2] > 0


def occlusion_arithmetic():
    T, H = 2_000, 128
    row_steps = T * T / 2
    flop = row_steps * 4 * H * H * 2                     # multiply-adds of 4H x H, two flops each
    assert row_steps == 2.0e6 and round(flop / 1e9) == 262
    assert round(flop / 80e9, 1) == 3.3 and round(flop / 160e9, 1) == 1.6 and round(1 / 0.328) == 3


def audit_within_tolerance():
    """The committed audits (scripts/audit_ig.py): every result converged and checkable, none further from the
    reference than its tolerance, the largest share 0.167, on the models each file names."""
    worst = []
    for name, models, count in (("audit_ig.json", {"imdb-full", "imdb-chunked-k30", "imdb-last-k30"}, 30),
                                ("audit_ig_more_models.json", {"imdb-last-k100", "imdb-k1k2-30-60", "imdb-last-k10"},
                                 39)):
        rows = json.loads((ROOT / "results" / name).read_text())
        assert {r["model"] for r in rows} == models and len(rows) == count
        assert all(r["converged"] and r["checkable"] for r in rows)
        worst += [r["error"] / r["tolerance"] for r in rows]
    assert max(worst) < 1 and round(max(worst), 3) == 0.167


def four_nodes():
    import inspect

    from tbptt_viz.attribution.methods import attribute

    assert inspect.signature(attribute).parameters["points"].default == 4


def flushes_subnormals():
    import inspect

    from tbptt_viz.attribution import methods, probe

    assert "flush_denormals()" in inspect.getsource(methods) and "flush_denormals()" in inspect.getsource(probe)


def lesson_tokens(lesson) -> list[str]:
    text = next(e.text for e in examples() if e.id == lesson.preset["review"])
    return prepare_review(text, model(lesson.preset["model"]).vocab).tokens


def full_bptt_gives_love_more_than_the_last_token():
    """Lesson 2's answer, by float64 autograd (nothing detached) for imdb-full with the review's label."""
    from tbptt_viz.present.lessons import LESSONS

    ids = review_ids("imdb-full", "love-then-plot")
    love = lesson_tokens(LESSONS[1]).index("love")
    g = autograd_input_grad_norms(model("imdb-full"), ids, 0, 1)
    assert g[love] > g[-1] > 0


def the_opening_moves_last_k_less_than_full():
    """Lesson 5's answer: removing the first 30 tokens changes both predictions (the forward pass is not cut),
    imdb-last-k30's by less, and flips neither; each by a plain re-run of the model on the shortened review."""
    change = {}
    for name in ("imdb-last-k30", "imdb-full"):
        ids = review_ids(name, "love-then-plot")
        with torch.no_grad():
            whole, without = (torch.sigmoid(model(name)(x[None])).item() for x in (ids, ids[30:]))
        assert (whole > 0.5) == (without > 0.5) or name == "imdb-full"
        change[name] = abs(whole - without)
    assert 0.005 < change["imdb-last-k30"] < change["imdb-full"]


def per_chunk_model_ships():
    card = json.loads((ROOT / "pretrained" / "imdb-chunked-k30-per-chunk" / "card.json").read_text())
    assert card["train_config"].get("update") == "per-chunk" and card["scheme"] == "chunked" and card["k"] == 30


def love_then_plot_lessons():
    ids = review_ids("imdb-last-k30", "love-then-plot")
    tokens = prepare_review(next(e for e in examples() if e.id == "love-then-plot").text,
                            model("imdb-last-k30").vocab).tokens
    first_sentence_end = tokens.index(".")
    assert tokens[1] == "love" and len(ids) - first_sentence_end > 150      # "well over a hundred words on plot"
    assert len(ids) - 1 - tokens.index("love") == 227                       # 'love' 227 tokens before the end
    short = review_ids("imdb-last-k30", "short-brilliant")
    assert len(short) <= 30                                                 # the whole review fits in K = 30


# ---------------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------------
README, STUDY, LAB, DESIGN = DOCS

FACTS = (
    # README
    Fact("Under last-K truncation the gradient of a review's loss with respect to its first words is *exactly* "
         "zero", (README,), last_k_is_exactly_zero_before_the_window_and_autograd_inside),
    Fact("early words then get a gradient from an earlier loss", (README,),
         chunked_reaches_the_opening_from_the_first_chunk),
    Fact("TBPTT(k1, k2) of Williams & Peng (1990) generalises it", (README,), k1k2_generalises_chunked),
    Fact("seven regimes, three seeds each, 25,000 test reviews", (README,), study_scope),
    Fact("every interval is 95% and says whether it is over seeds or reviews", (README,),
         in_test("tests/test_docs.py", "test_single_seed_columns_say_so_and_no_interval_is_zero_width")),
    Fact("`torch==2.13.0` is pinned", (README,), torch_pinned),
    Fact("seven steps", (README,), seven_lessons),
    Fact("Reviews over 2,000 tokens keep their last 2,000 (the end is what last-K trains on), with the first "
         "2,000 as an option", (README,), long_reviews_keep_their_end),
    Fact("prints one line on stderr and exits with status 2", (README,), bad_input_exits_2),
    Fact("`nn.Embedding(vocab, 64, padding_idx=0)` (pad id 0, unknown id 1)", (README,), model_contract),
    Fact("one-layer `nn.LSTM(64, 128, batch_first=True)`", (README,), model_contract),
    Fact("`nn.Linear(128, 1)`", (README,), model_contract),
    Fact("docker run -p 8501:8501 tbptt-viz", (README,), docker_user_and_port),
    Fact("runs as a non-root user (UID 1000)", (README,), docker_user_and_port),
    Fact("Every file under `pretrained/` is under 10 MB", (README,), pretrained_files_small),
    Fact("three worker threads for its two cores", (README,), three_workers_and_long_reviews),
    Fact("three worker threads for the two cores", (DESIGN,), three_workers_and_long_reviews),
    Fact("a review over 800 tokens, beyond its first chart, gets one worker while others wait, two when nobody does",
         (README,), three_workers_and_long_reviews),
    Fact("reviews longer than 800 tokens, beyond their first chart, on one worker while other jobs wait (on two when "
         "nothing else does)", (DESIGN,), three_workers_and_long_reviews),
    Fact("past 512 waiting jobs, or 64 from one session, a request is answered \"busy, try again\" at once",
         (README,), queue_bounds),
    Fact("A review over 500 tokens has its occlusion and context probe computed in bounded pieces", (README,),
         long_review_pieces),
    Fact("the last 500 positions first, each piece at most 0.3 M LSTM row-steps", (README,), long_review_pieces),
    Fact("joined they equal the whole computation to the bit", (README,),
         in_test("tests/test_jobs.py", "test_pieces_joined_equal_the_whole_computation_to_the_bit",
                 "assert_array_equal")),
    Fact("when estimated over 192 MB or 90 s", (README,), live_and_cli_budgets),
    Fact("refuses one estimated over 1 GB or 60 minutes", (README,), live_and_cli_budgets),
    Fact("`LIVE_BUDGET` (192 MB, 90 s)", (LAB,), live_and_cli_budgets),
    Fact("`lab run` refuses over 1 GB or 60 minutes", (LAB,), live_and_cli_budgets),
    Fact("the links the app writes stay under 8,000 characters of query string", (README,), link_limits),
    Wording("nginx's default request line is 8 KB", (README,), "a proxy's documented default, for context"),
    Fact("The longest link a Streamlit 1.67 server opens directly", (README,), link_limits),
    Measured("on 127.0.0.1 (results/bench/link_limit.json): a query string of 127,854 characters answers HTTP 200 "
             "to a plain GET (one more gets HTTP 400, the server's limit on a request's head), chromium opens "
             "123,758 characters (its own headers are longer) but not 127,854; Streamlit itself would read up to "
             "524,288 characters", (README,), "scripts/measure_link_limit.py"),
    Fact("a query string of 127,854 characters answers HTTP 200", (README,), link_limits),
    Measured("every such refusal at 0.16-0.32 s against 0.04-0.07 s for `python -c pass` and "
             "1.9-2.7 s for `python -c \"import torch\"` in the same run (2-core machine shared with other "
             "jobs", (README,), "scripts/bench_cli.py"),
    Fact("at 0.16-0.32 s against 0.04-0.07 s for `python -c pass`", (README,), cli_refusal_times),
    Measured("One process rendering every view of a 2,000-token review", (README,), "scripts/measure_memory.py"),
    Measured("peaked at 722 MB of resident memory; the same procedure on the code before issue #24 peaked at "
             "1,020 MB (the last-K sweep held its 2,000 x 2,000 float64 matrix and copies of it, ~130 MB per long "
             "review, now built 128 rows at a time)", (README,), "scripts/measure_memory.py"),
    Fact("peaked at 722 MB", (README,), memory_figures),
    Measured("(10-50 sessions of mixed traffic on 127.0.0.1", (README,), "scripts/soak.py"),
    Measured("2,000-token reviews; the server's total PSS sampled every 30 s", (README,), "scripts/soak.py"),
    Fact("errors, p50/p95 per kind and the memory curve as JSON in results/bench/soak.json, from which "
         "`scripts/update_docs.py` writes the paragraph below", (README,), soak_figures),
    Fact("Each shipped model was trained on all 25,000 IMDB training reviews", (README,), shipped_training_sentence),
    Fact("62.4% of them have 100-300, 28.6% more (up to 2,739) and 9.0% fewer (down to 11)", (README,),
         shipped_training_sentence),
    Fact("imdb-last-k30 truncates at K = 30, as in the question", (README,), regimes_listed),
    Fact("A strongly polar phrase planted at the very start moves last-K (K = 30)", (README,),
         start_contrast_sentence_is_the_readmes),
    Fact("trained with last-K truncation (K = 30) on reviews of 100-300 words", (README, LAB),
         length_distribution_counts_tokens),  # the question's setup; the check is the counter behind the answer
    Fact("It makes no network request unless you choose \"IMDB test reviews\" in the sidebar", (README,),
         in_test("tests/test_app.py", "test_default_page_opens_on_the_answer_offline")),
    Fact("the page makes no request beyond its own files", (README,), static_page_requests_nothing),
    Fact("Its Content-Security-Policy is strict: scripts from the site's own files only (no inline script, no "
         "`'unsafe-eval'`), no connections", (README,), static_page_requests_nothing),
    Fact("the tests compare the page's values with a direct computation", (README,),
         in_test("tests/test_shipped.py", "test_static_export_holds_the_apps_numbers")),
    Fact("loading checks sizes before reading and refuses any file whose hash differs", (README,),
         in_test("tests/test_text_data_checkpoint.py", "test_checkpoint_round_trip_and_tamper")),
    Fact("Nothing is pickled and nothing calls `torch.load`", (README,), nothing_pickled_for_weights),
    Fact("identical requests are computed once", (README,),
         in_test("tests/test_serving.py", "test_identical_requests_share_one_computation_and_the_cache")),
    Fact("so one worker is always free", (README, DESIGN),
         in_test("tests/test_serving.py", "test_one_worker_stays_free_beside_a_lab_run_and_long_reviews")),
    # docs/study.md
    Fact("Six training regimes, each trained on three seeds", (STUDY,), study_scope),
    Fact("the same vocabulary of 20,000 entries, padding and unknown included; embedding 64, LSTM 128, 6 epochs, "
         "Adam lr 2e-3, gradient clipping at 1, embedding dropout 0.25", (STUDY,), training_settings),
    Fact("full BPTT, last-K with K = 10, 30 and 100, chunked with K = 30, and TBPTT(k1 = 30, k2 = 60)", (STUDY,),
         regimes_listed),
    Fact("Seed 0 of each ships under `pretrained/`", (STUDY,), seed0_ships),
    Fact("on this project's 2-core CPU (torch on one thread)", (STUDY,), one_thread),
    Fact("Every interval is 95% and says what it is over", (STUDY,),
         in_test("tests/test_docs.py", "test_single_seed_columns_say_so_and_no_interval_is_zero_width")),
    Fact("the wider 95% prediction interval", (STUDY,), interval_formulas),
    Fact("only where its interval over the matched seed pairs excludes 0", (STUDY,),
         in_test("tests/test_docs.py", "test_every_verdict_in_the_docs_holds_over_matched_seed_pairs")),
    Fact("mean ± t(0.975, n-1) s / sqrt(n)", (STUDY,), interval_formulas),
    Fact("mean ± t(0.975, n-1) s sqrt(1 + 1/n)", (STUDY,), interval_formulas),
    Fact("(mean ± 1.96 SEM, Wilson's interval for a fraction)", (STUDY,),
         in_test("tests/test_study.py", "test_intervals_over_seeds_and_reviews_against_scipy", "0.0196", "Wilson")),
    Fact("matched pairs (three here)", (STUDY,), study_scope),
    Fact("the cards of seeds 1 and 2", (STUDY,), seed0_ships),
    Fact("the integrated-gradient columns come from seed 0 alone", (STUDY,), attribution_sample),
    Fact("only where that interval excludes 0, otherwise \"not established with 3 seeds\"", (STUDY,),
         in_test("tests/test_docs.py", "test_every_verdict_in_the_docs_holds_over_matched_seed_pairs")),
    Fact("three pairs of one sign happen by chance one time in four", (STUDY,), one_time_in_four),
    Fact("all 25,000 test reviews, whole reviews", (STUDY,), study_scope),
    Fact("the same 25,000 reviews", (STUDY,), study_scope),
    Fact("the three matched pairs has the same sign", (STUDY,), study_scope),
    Fact("The phrase \"simply wonderful and moving .\" or \"simply awful and boring .\"", (STUDY,), planted_phrases),
    Fact("Khandelwal et al. 2018, https://arxiv.org/abs/1805.04623", (STUDY,), khandelwal_cited_in_code),
    Fact("a balanced sample of reviews of 100-500 tokens", (STUDY,), attribution_sample),
    Fact("on the first 100 of them for the seed-0 models", (STUDY,), attribution_sample),
    Fact("within 1% of the logit's change + 0.01", (STUDY,), ig_tolerance),
    Fact("the logit jumps by more than 5", (STUDY, DESIGN), logit_jumps_on_the_default_example),
    Fact("it rises by more than 10 within 3e-11 of alpha = 0.0414147400, where every word is 4% present",
         (STUDY, DESIGN), in_test("tests/test_shipped.py",
                                  "test_a_step_credited_as_rank_one_matches_a_reference_that_locates_it",
                                  "star - 3e-11, star + 3e-11]))[0] > 10", "pytest.approx(0.0414147400")),
    Fact("puts more than half of |attribution| on the first 30 tokens, where occlusion puts less than a tenth",
         (STUDY,), ig_and_occlusion_on_the_opening),
    # docs/lab.md
    Fact("(embedding 16, hidden 32) in 1-11 s each with one step per batch", (LAB,), lab_model_sizes_and_times),
    Fact("every chunked and TBPTT cell still reaches 1.00 on every seed", (LAB,), lab_update_rule_reaches_one),
    Fact("at K = 10 it passes 90% after 1-2 epochs against 2-3, while at K = 30 it is no faster (4-15 epochs "
         "against 2-10)", (LAB,), lab_update_rule_speed),
    Fact("The sweep's 35 per-review cells took 374 s (1 torch thread). The 8 per-chunk cells", (LAB,),
         lab_sweep_times),
    Fact("2,734 s on a machine shared with an IMDB training job", (LAB,), lab_sweep_times),
    Fact("every step's gradient is clipped (norm 1, as the other models)", (DESIGN,), per_chunk_clip),
    Wording("with a learning rate of 0 each step's gradient", (DESIGN,), "a test's setting, not a claim"),
    Fact("T tokens (default 100)", (LAB,), lab_tasks),
    Fact("random words from 36 neutral filler words", (LAB,), lab_tasks),
    Fact("examples 5-30 tokens long", (LAB,), lab_tasks),
    Fact("L = 20 tokens \"0\"/\"1\"; positives hold a single 1, negatives are all zeros", (LAB,), any_one_task),
    Fact("Test positives put the 1 at every position equally often", (LAB,), any_one_task),
    Fact("no 1 in the last M = 10 positions", (LAB,), lab_tasks),
    Fact("d steps before the end of T = 100 filler tokens", (LAB,), lab_tasks),
    Fact("1000 training and 400 test sequences, 20 epochs, batch 32, Adam lr 0.003, gradient clipping at 1, no "
         "dropout, initial forget-gate bias 1.0 (the IMDB models use 1.0 too)", (LAB,), lab_settings),
    Fact("the mean ± sample standard deviation over seeds 0, 1, 2 (ddof = 1), with the worst seed in brackets",
         (LAB,), lab_seed_statistics),
    Fact("Chance is 0.50", (LAB,), lab_chance_is_half),
    Fact("with 20% short examples and K = 30 every short example has its opening inside the window", (LAB,),
         short_examples_fit_the_window),
    Fact("With K = 10 the same short examples put the decisive word inside the window only when they have 11 "
         "tokens or fewer", (LAB,), short_examples_fit_the_window),
    Fact("at forget bias 1 it can stay at chance within the epoch budget while fitting the training set", (LAB,),
         full_bptt_can_stay_at_chance),
    Fact("bit-for-bit what they were at initialisation (tested in `tests/test_lab.py`)", (LAB,),
         in_test("tests/test_lab.py", "test_last_k_never_learns_the_opening_and_never_touches_its_embedding")),
    Fact("with some 1s inside the window, last-K learns \"hold a 1 once seen\" for distances far beyond K", (LAB,),
         in_test("tests/test_lab.py", "test_any_one_with_some_1s_in_the_window_generalises_further_back_than_k")),
    Fact("with no 1 inside any window the 1's embedding gets no gradient at all (tested)", (LAB,),
         in_test("tests/test_lab.py", "test_any_one_without_a_1_in_the_window_gives_the_1_no_gradient")),
    # docs/design.md
    Fact("Its mmap threshold is fixed at 256 KB", (DESIGN,), mmap_threshold),
    Fact("tested bit for bit against torch.optim.Adam, and tested to import neither", (DESIGN,),
         lambda: (in_test("tests/test_train.py", "test_our_adam_is_torchs_bit_for_bit")(),
                  in_test("tests/test_train.py", "test_a_lab_run_imports_no_compiler")())),
    Fact("it counts every thread's now (tested)", (DESIGN,),
         in_test("tests/test_serving.py", "test_the_soak_counts_a_child_started_by_a_worker_thread")),
    Fact("the result cache at 64 MB", (DESIGN,), result_cache),
    Fact("the 20-minute soak in the README stays within the 800 MB goal in every 30-second sample", (DESIGN,),
         soak_within_goal),
    Fact("checked in the tests against one autograd backward per K", (DESIGN,),
         in_test("tests/test_flow.py", "test_sweep_equals_one_backward_per_k")),
    Fact("`2n + 1` of them for `n = 4`", (DESIGN,), four_nodes),
    Fact("tested to integrate polynomials to degree `3n + 1`", (DESIGN,),
         in_test("tests/test_integrated.py",
                 "test_gauss_kronrod_nodes_hold_the_gauss_rule_and_integrate_polynomials_to_degree_3n_plus_1",
                 "range(3 * n + 2)")),
    Measured("beside a step float32 gradients were off by up to 9%", (DESIGN,), "scripts/measure_ig_precision.py"),
    Measured("since their directions stayed within 4e-6", (DESIGN,), "scripts/measure_ig_precision.py"),
    Measured("on IMDB test reviews it said converged with scores up to 34 times the tolerance from a dense reference",
             (DESIGN,), "scripts/audit_ig.py"),
    Fact("no converged result in the audit was further than its tolerance from the reference: 30 of 30 on "
         "imdb-full, imdb-chunked-k30 and imdb-last-k30 (results/audit_ig.json) and 39 of 39 on imdb-last-k100, "
         "imdb-k1k2-30-60 and imdb-last-k10 (results/audit_ig_more_models.json), at most 0.167 of the tolerance",
         (DESIGN,), audit_within_tolerance),
    Measured("imdb-full on IMDB test review 15626, F fell from 3.3 to 1.2 and back between two nodes of "
             "[0.105, 0.5]; the result said converged 0.317 in L2 from the reference against a tolerance of 0.069; "
             "with the check it ends 0.004 from it", (DESIGN,), "scripts/audit_ig.py"),
    Fact("2e-12 apart point the same way to |cos| > 0.9999 (tests/test_shipped.py checks all of it)", (DESIGN,),
         in_test("tests/test_shipped.py", "test_a_step_credited_as_rank_one_matches_a_reference_that_locates_it")),
    Fact("one where float32 gradients carry the error measured beside a step: no converged result rests on them",
         (DESIGN,), in_test("tests/test_integrated.py",
                            "test_float32_error_beside_a_step_does_not_reach_a_converged_result",
                            "np.linalg.norm(r.scores - target.exact()) <= r.tolerance")),
    Fact("a step 1e-16 wide credited to within the tolerance per token", (DESIGN,),
         in_test("tests/test_integrated.py", "test_a_step_too_steep_for_float64_is_credited_along_its_one_direction",
                 "np.linalg.norm(r.scores - exact) <= r.tolerance", module="STEP, WIDTH, A = 0.3, 1e-16")),
    Fact("steps whose direction turns by 0.3% to 30% across them", (DESIGN,),
         in_test("tests/test_integrated.py", "test_a_rank_one_credit_is_only_claimed_where_its_bound_holds")),
    Fact("a reference that bisects the jump to 1e-14", (DESIGN,),
         in_test("tests/test_shipped.py", "test_a_step_credited_as_rank_one_matches_a_reference_that_locates_it",
                 "1e-14")),
    Fact("glibc's malloc arenas are capped at two", (DESIGN,), arenas_capped_at_two),
    Fact("`.streamlit/config.toml` turns it off (`fileWatcherType = \"none\"`)", (DESIGN,), streamlit_config),
    Fact("over 6 KB of JSON per figure", (DESIGN,), light_template_is_small),
    Fact("so K = T gives exactly 0", (DESIGN,), sweep_k_equals_t_is_zero),
    Fact("It runs T^2/2 row-steps", (DESIGN,), occlusion_arithmetic),
    Fact("At T = 2,000 the exact batch is 2.0 million row-steps of 4H x H multiply-adds, 262 GFLOP per method: 3.3 s "
         "on one core at the measured 80 GFLOP/s, 1.6 s if both cores did nothing else", (DESIGN,),
         occlusion_arithmetic),
    Fact("So pruning could give about 3x for last-K models", (DESIGN,), occlusion_arithmetic),
    Fact("attribution flushes them to zero while it runs", (DESIGN,), flushes_subnormals),
    Fact("equals the training view's ||dL/dx_t|| (to 1e-7 relative, measured 7e-9: two float64 computations)",
         (DESIGN,), lambda: test_saliency_under_a_scheme_equals_the_training_view_as_stated()),
    # lessons (the page's text; the UI helpers rewrite them: keep an entry per factual sentence)
    Fact("Exactly zero. In the last-K strip every token left of the red cut is hatched",
         ("lessons",), last_k_is_exactly_zero_before_the_window_and_autograd_inside),
    Fact("spends well over a hundred words on plot", ("lessons",), love_then_plot_lessons),
    Fact("'love' (token 1, 227 tokens before the end)", ("lessons",), love_then_plot_lessons),
    Fact("Larger, on this review and model", ("lessons",), full_bptt_gives_love_more_than_the_last_token),
    Fact("A minority, but not none", ("lessons",),
         in_test("tests/test_evidence_present.py", "test_exposure_lesson_answer_holds_for_the_shipped_model")),
    Fact("It changes, by less than imdb-full's: the forward pass is never truncated", ("lessons",),
         the_opening_moves_last_k_less_than_full),
    Fact("No. The curve runs on past the shaded 30 tokens and fades gradually", ("lessons",),
         in_test("tests/test_evidence_present.py", "test_connectivity_lesson_answer_holds_for_the_shipped_model")),
    Fact("as the IMDB TBPTT script in ksopyla/pytorch_neural_networks does (RNN/lstm_imdb_tbptt.py; the model "
         "imdb-chunked-k30-per-chunk)", ("lessons",), per_chunk_model_ships),
    Fact("All of them: the whole review fits inside the window", ("lessons",), love_then_plot_lessons),
    Fact("the first chunk's loss sits at token 29 and back-propagates to token 0", ("lessons",),
         chunked_reaches_the_opening_from_the_first_chunk),
    Fact("timeline shows every token reached by exactly one loss", ("lessons",),
         chunked_reaches_the_opening_from_the_first_chunk),
    # numbers that state no fact
    Wording("|G_K|^2", (DESIGN,), "a squared norm in a formula"),
    Wording("with w its direction scaled to sum to 1", (DESIGN,), "the definition of w"),
    # measured speed and memory: benchmark scripts, never asserted in tests (the current figures sit in generated
    # blocks from results/bench/*.json, checked by tests/test_docs.py; these are the prose's own)
    Measured("a 2,000-token review needs a few hundred MB at most", (DESIGN,), "scripts/bench_flow.py"),
    Measured("(2.6-3.2x faster here, F values 3.9-4.6x: `scripts/bench_precision.py`)", (DESIGN,),
             "scripts/bench_precision.py"),
    Measured("each spawned worker process would hold 380-490 MB of its own here against a free host's 1 GB",
             (DESIGN,), "scripts/bench_load.py"),
    Measured("slowed another visitor's page by 1.06-1.38x (a 1 ms lock hand-over", (DESIGN,), "scripts/bench_load.py"),
    Measured("0.2-0.4 s per run", (DESIGN,), "measured with a sampling profile of the running server"),
    Measured("(`postScriptGC = false`, 0.1-0.2 s with torch loaded)", (DESIGN,),
             "measured with a sampling profile of the running server"),
    Measured("50 ms and over 6 KB", (DESIGN,), "measured with a sampling profile of the running server"),
    Measured("(3-9 ms instead of 16-40 ms)", (DESIGN,), "measured with a sampling profile of the running server"),
    Measured("a cached page went from 0.35 s to 0.06 s of server CPU per new session (25 at once: 8.9 s to 1.2 s)",
             (DESIGN,), "measured with a sampling profile of the running server"),
    Measured("at about 80 GFLOP/s on one core here (T = 2,000: 3.3 s each)", (DESIGN,), "scripts/bench_attribution.py"),
    Measured("on a 2,000-token review joined from IMDB test reviews: within 1e-4, 32.8% of the row-steps would remain "
             "under imdb-last-k30, 95.2% under imdb-full and 99.9% under imdb-chunked-k30", (DESIGN,),
             "scripts/measure_rejoin.py"),
    Measured("The issue's 1.5 s for occlusion and the probe together", (DESIGN,), "scripts/bench_attribution.py"),
    Measured("which this CPU handles about 10x slower", (DESIGN,), "scripts/bench_attribution.py"),
)
# Rows of design.md's speed table: each names its script in the row itself.
SPEED_TABLE = "docs/design.md"


def _id(f) -> str:
    return re.sub(r"\W+", "-", f.says.lower())[:60].strip("-")


@pytest.mark.parametrize("fact", FACTS, ids=_id)
def test_each_fact_is_stated_where_the_registry_says(fact):
    for where in fact.where:
        assert " ".join(fact.says.split()) in text_of(where), f"{where} no longer says: {fact.says}"


@pytest.mark.parametrize("fact", [f for f in FACTS if isinstance(f, Fact)], ids=_id)
def test_each_fact_holds(fact):
    fact.check()


def test_wording_entries_say_why():
    assert all(len(f.why.split()) >= 2 for f in FACTS if isinstance(f, Wording))


@pytest.mark.parametrize("fact", [f for f in FACTS if isinstance(f, Measured)], ids=_id)
def test_each_measured_figure_names_how_it_was_measured(fact):
    if fact.by.startswith("scripts/"):
        assert (ROOT / fact.by).is_file()
    else:
        assert all(fact.by in text_of(w) for w in fact.where)


_BLOCKS = re.compile(r"\A---\n.*?\n---\n|<!-- generated:(\w+) -->.*?<!-- /generated:\1 -->|```.*?```", re.S)
_INLINE = re.compile(r"`[^`]*`|\]\([^)]*\)|https?://\S+")
_NUMBER = re.compile(r"(?<![\w.-])\d[\w.,%]*")


def prose_paragraphs(path: str) -> list[str]:
    """The prose paragraphs of a doc, whitespace normalised: front matter, generated blocks, code blocks,
    headings and list markers left out."""
    out = []
    for para in re.split(r"\n\s*\n", _BLOCKS.sub("\n\n", (ROOT / path).read_text())):
        if para.strip() and not para.lstrip().startswith("#"):
            out.append(" ".join(" ".join(re.sub(r"^\s*\d+\.\s", "", line) for line in para.splitlines()).split()))
    return out


def _inside(pos: int, spans) -> bool:
    return any(a <= pos < b for a, b in spans)


@pytest.mark.parametrize("path", DOCS)
def test_every_number_in_the_docs_is_a_registered_fact(path):
    """Every number in the prose (outside inline code and links) must lie inside an occurrence of a registered
    `says` for this file; rows of design.md's speed table name their benchmark script in the row."""
    says = [" ".join(f.says.split()) for f in FACTS if path in f.where]
    missing = []
    for flat in prose_paragraphs(path):
        if path == SPEED_TABLE and flat.startswith("|") and "scripts/" in flat:
            continue
        code = [m.span() for m in _INLINE.finditer(flat)]
        covered = [m.span() for s in says for m in re.finditer(re.escape(s), flat)]
        missing += [f"{m.group()!r} in: {flat[max(0, m.start() - 60): m.end() + 60]}" for m in _NUMBER.finditer(flat)
                    if not _inside(m.start(), code) and not _inside(m.start(), covered)]
    assert not missing, f"{path}: numbers without a registered fact (add a Fact or Measured to FACTS):\n" + \
        "\n".join(missing)


# ---------------------------------------------------------------------------------------------------------
# Tolerances as measured (issue 22 part 4): each stated precision, measured on the shipped models
# ---------------------------------------------------------------------------------------------------------
FLOW_RTOL = 1e-7   # gradient_flow against plain float64 autograd, per position: measured up to 2.4e-8


@pytest.mark.slow
@pytest.mark.parametrize("name", ("imdb-full", "imdb-last-k30", "imdb-chunked-k30"))
def test_gradient_flow_matches_float64_autograd_within_its_stated_tolerance(name):
    worst = 0.0
    for r in examples()[::4]:
        ids = review_ids(name, r.id)
        T = len(ids)
        for k in (T, 30):
            gf = gradient_flow(model(name), ids, scheme="last-k", k=k)
            ref = autograd_input_grad_norms(model(name), ids, max(0, T - k), gf.label_used)
            inside = ref > 0
            assert np.all(gf.input_grad_norm[~inside] == 0.0) and inside.sum() == min(k, T)
            worst = max(worst, float(np.max(np.abs(gf.input_grad_norm - ref)[inside] / ref[inside])))
            # inside the window last-K's terms are full BPTT's own numbers, bit for bit
            assert np.array_equal(gf.input_grad_norm[T - min(k, T):], gf.full_input_grad_norm[T - min(k, T):])
    assert worst < FLOW_RTOL, f"{name}: relative error {worst:.1e}"


@pytest.mark.slow
def test_float32_target_error_is_as_documented():
    """targets.py: float32 per-token gradient terms within ~1e-6 relative (median), up to ~1e-5 where F is steep;
    F within ~1e-7 of |F| + 1 (median), up to ~2e-5 there."""
    from tbptt_viz.attribution.targets import window_target

    grad_err, f_err = [], []
    for name in ("imdb-full", "imdb-last-k10"):
        for r in examples()[::3]:
            ids = review_ids(name, r.id)
            target = window_target(model(name), ids, [(len(ids) - 1, 0)])
            alphas = np.linspace(0.0, 1.0, 12)
            v64, g64 = target.path_gradients(alphas)
            v32, g32 = target.path_gradients(alphas, fast=True)
            norm = np.linalg.norm(g64, axis=1)
            grad_err += list(np.linalg.norm(g32 - g64, axis=1)[norm > 0] / norm[norm > 0])
            f_err += list(np.abs(v32 - v64) / (np.abs(v64) + 1))
    assert np.median(grad_err) < 3e-6 and np.max(grad_err) < 5e-5
    assert np.median(f_err) < 1e-6 and np.max(f_err) < 5e-5


def test_batched_study_logits_equal_one_review_at_a_time_runs_as_stated():
    """measure.py: batched right-padded rows equal one-review-at-a-time runs; measured on a shipped (float32)
    model: within 2e-6 of the logit, not bit for bit (batched float32 matmuls sum in another order)."""
    from tbptt_viz.experiments.study.measure import batch_logits

    m = model("imdb-last-k30")
    seqs = [review_ids("imdb-last-k30", r.id).tolist() for r in examples()]
    batched = batch_logits(m, seqs)
    with torch.no_grad():
        single = np.array([float(m(torch.tensor(s)[None])) for s in seqs])
    assert np.max(np.abs(batched - single)) < 2e-6


def test_right_padding_leaves_a_row_bit_for_bit_as_stated():
    """model.py: reading h at position length-1 of a right-padded row gives exactly the unpadded result."""
    from tbptt_viz.core.train import pad_batch

    m = model("imdb-full")
    seqs = [review_ids("imdb-full", r.id).tolist() for r in examples()]
    ids, lens = pad_batch(seqs)
    with torch.no_grad():
        for i, s in enumerate(seqs):
            assert float(m(ids[i : i + 1], lens[i : i + 1])) == float(m(torch.tensor(s)[None]))


def test_saliency_under_a_scheme_equals_the_training_view_as_stated():
    """methods.py and design.md: saliency under a scheme equals gradient_flow's ||dL/dx_t|| up to the latter's
    own float64 error (within FLOW_RTOL relative; measured 7e-9), and is exactly zero where the view is zero."""
    from tbptt_viz.attribution.methods import attribute

    ids = review_ids("imdb-last-k30", "love-then-plot")
    gf = gradient_flow(model("imdb-last-k30"), ids, scheme="last-k", k=30)
    sal = attribute(model("imdb-last-k30"), ids, "saliency", backprop="last-k", k=30, label=gf.label_used)
    assert np.all(np.asarray(sal.scores)[gf.input_grad_norm == 0] == 0)
    np.testing.assert_allclose(np.abs(sal.scores), gf.input_grad_norm, rtol=FLOW_RTOL, atol=0)
