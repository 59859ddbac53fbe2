import pytest

from tbptt_viz.attribution.choices import METHODS
from tbptt_viz.present.params import (CUSTOM, DEFAULTS, LAB_FIELDS, Settings, default_compare, imdb_pool, lab_query,
                                      lab_state, parse_query, snap_k, to_query)

MODELS = ["imdb-full", "imdb-last-k30"]
EXAMPLES = ["love-then-plot", "short-awful"]


def test_round_trip():
    s = Settings(review=CUSTOM, text="<b>mine</b> & yours", model="imdb-full", scheme="k1k2", k=10, k1=5, k2=12,
                 method="occlusion", compare="imdb-last-k30")
    back, notices = parse_query(to_query(s), MODELS, EXAMPLES)
    assert back == s and notices == []
    s2 = Settings(review="short-awful", scheme="chunked", k=50)
    q = to_query(s2)
    assert "text" not in q and "k1" not in q
    assert parse_query(q, MODELS, EXAMPLES) == (s2, [])


def test_empty_query_gives_defaults():
    assert parse_query({}, MODELS, EXAMPLES) == (DEFAULTS, [])


def test_bad_values_fall_back_with_notices():
    s, notices = parse_query({"review": "nope", "model": "gpt", "scheme": "x", "k": "-3", "k1": "abc",
                              "method": "magic", "compare": "nah"}, MODELS, EXAMPLES)
    assert s == DEFAULTS
    assert len(notices) == 7 and all("URL" in n or "unknown" in n for n in notices)


def test_custom_without_text_falls_back():
    s, notices = parse_query({"review": CUSTOM}, MODELS, EXAMPLES)
    assert s.review == DEFAULTS.review and notices


def test_text_alone_means_custom_and_lists_take_last():
    s, _ = parse_query({"text": ["a", "great film"]}, MODELS, EXAMPLES)
    assert s.review == CUSTOM and s.text == "great film"


def test_default_model_missing_uses_first_available():
    s, _ = parse_query({}, ["only-one"], EXAMPLES)
    assert s.model == "only-one"


def test_snap_k():
    assert snap_k(37, [30, 40, 50]) == 40 and snap_k(35, [30, 40]) == 30 and snap_k(999, [1, 12]) == 12


def test_k_above_the_longest_review_is_clamped():
    s, notices = parse_query({"k1": "5000"}, MODELS, EXAMPLES)
    assert s.k1 == 2000 and "2000" in notices[0]


@pytest.mark.parametrize("method", METHODS)
def test_every_attribution_method_is_a_valid_url_value(method):
    s, notices = parse_query({"method": method}, MODELS, EXAMPLES)
    assert s.method == method and notices == []
    assert parse_query({"method": method.upper()}, MODELS, EXAMPLES)[0].method == DEFAULTS.method


def test_compare_equal_to_model_is_said_and_dropped():
    s, notices = parse_query({"model": MODELS[0], "compare": MODELS[0]}, MODELS, EXAMPLES)
    assert s.compare == "" and "with itself" in notices[0]


def test_lab_update_rule_round_trips_through_the_url_and_bad_values_keep_the_default():
    from tbptt_viz.experiments.lab.runs import LabConfig
    from tbptt_viz.present.params import LAB_KEYS, lab_query, lab_state

    assert "lab_update" in LAB_KEYS
    q = lab_query(LabConfig(scheme="chunked", k=10, update="per-chunk"))
    assert q["lab_update"] == "per-chunk"
    assert lab_state(q) == ({**lab_state(q)[0], "lab_update": "per-chunk"}, [])
    values, notices = lab_state({"lab_update": "per-epoch"})
    assert values["lab_update"] == "per-review"
    assert notices == ["URL parameter lab_update='per-epoch' is not one of per-review, per-chunk; using the default "
                       "per-review"]
    assert lab_state({})[0]["lab_update"] == "per-review"


def test_default_compare_avoids_the_model_itself_and_broken_ones():
    models = ["imdb-full", "imdb-last-k30", "imdb-last-k10"]
    assert default_compare("imdb-last-k30", models) == "imdb-full"
    assert default_compare("imdb-full", models) == "imdb-last-k30"
    assert default_compare("imdb-last-k30", models, {"imdb-full"}) == "imdb-last-k10"
    assert default_compare("only", ["only"]) is None


def test_imdb_pool_filters_label_and_length():
    rows = {"a": ("t", 1, 150), "b": ("t", 0, 150), "c": ("t", 1, 600)}
    assert imdb_pool(rows, "positive", 100, 300) == ["a"]
    assert imdb_pool(rows, "any", 100, 1000) == ["a", "b", "c"]
    assert imdb_pool(rows, "negative", 200, 300) == []


def test_lab_query_and_lab_state_round_trip():
    from tbptt_viz.experiments.lab.runs import LabConfig

    config = LabConfig(task="any-one", scheme="chunked", k=7, seed=3, seq_len=50, short_frac=0.25, clean_last=4,
                       ones_in_window_frac=0.5, distance=9, n_train=100, epochs=2, hidden=8)
    q = lab_query(config)
    assert q["lab_ones_frac"] == "0.5" and q["lab_seq_len"] == "50" and set(q) == {f"lab_{f}" for f in LAB_FIELDS}
    assert lab_state(q) == ({"lab_task": "any-one", "lab_scheme": "chunked", "lab_k": 7, "lab_seed": 3,
                             "lab_seq_len": 50, "lab_short_frac": 0.25, "lab_clean_last": 4, "lab_ones_frac": 0.5,
                             "lab_distance": 9, "lab_n_train": 100, "lab_epochs": 2, "lab_hidden": 8,
                             "lab_update": "per-review"}, [])


def test_lab_state_keeps_defaults_for_bad_values():
    state, notices = lab_state({"lab_task": "nope", "lab_scheme": "sideways", "lab_k": "-1", "lab_epochs": ["3", "x"],
                                "lab_short_frac": "7", "lab_ones_frac": "nan-ish", "lab_hidden": "1e9"})
    assert state["lab_task"] == LAB_FIELDS["task"] and state["lab_scheme"] == LAB_FIELDS["scheme"]
    assert state["lab_k"] == LAB_FIELDS["k"] and state["lab_epochs"] == LAB_FIELDS["epochs"]  # lists: the last
    assert state["lab_short_frac"] == LAB_FIELDS["short_frac"]  # out of range: the default, never clamped
    assert state["lab_ones_frac"] == LAB_FIELDS["ones_frac"] and len(notices) == 7
    assert state["lab_hidden"] == LAB_FIELDS["hidden"] and lab_state({}) == ({f"lab_{f}": v for f, v in
                                                                             LAB_FIELDS.items()}, [])


# ---- a model that cannot be loaded ---------------------------------------------------------------------

def test_working_model_keeps_the_wanted_one_or_falls_back_with_one_notice():
    from tbptt_viz.present.params import broken_notice, working_model

    ok = {"a": None, "b": None}
    assert working_model("b", ok) == ("b", None) and broken_notice(ok) is None
    status = {"a": "a: head.weight holds 3 NaN\nvalues", "b": None, "c": None}
    model, notice = working_model("a", status)
    assert model == "b" and notice == ("Model a cannot be loaded (a: head.weight holds 3 NaN values) and is left out "
                                       "of the lists; showing b instead.")
    assert working_model("zzz", status)[0] == "b"  # a name that is not installed at all
    assert broken_notice(status) == ("1 of 3 models cannot be loaded and are left out of the lists: "
                                     "a (a: head.weight holds 3 NaN values).")
    assert broken_notice(status, named=("a",)) is None  # said in the fallback's notice already
    assert broken_notice({**status, "c": "c: a repeated word"}, named=("a",)) == (
        "Also left out of the model lists, as they cannot be loaded: c (c: a repeated word).")
    model, notice = working_model("a", {"a": "gone", "b": "also gone"})
    assert model is None and "No model can be loaded" in notice


def test_model_store_status_loads_each_model_once():
    from tbptt_viz.serving.service import ModelStore

    calls = []

    def loader(name):
        calls.append(name)
        if name == "bad":
            raise ValueError("bad: not float32")
        return object()

    store = ModelStore(loader)
    assert store.status(["good", "bad"]) == {"good": None, "bad": "bad: not float32"}
    assert store.status(["good", "bad"]) == {"good": None, "bad": "bad: not float32"}
    assert calls == ["good", "bad"]
    assert store.status(["good", "bad"], retry_after=0) == {"good": None, "bad": "bad: not float32"}
    assert calls == ["good", "bad", "bad"]  # a broken one is tried again once its retry time has passed


# ---- the Lab's link values -----------------------------------------------------------------------------

def test_lab_link_values_outside_the_form_fall_back_to_defaults_with_a_notice():
    from tbptt_viz.experiments.lab.settings import FORM_BOUNDS
    from tbptt_viz.present.params import LAB_FIELDS, lab_state

    query = {"view": "Lab", "lab_epochs": "5000", "lab_k": "900", "lab_hidden": "5000", "lab_n_train": "0",
             "lab_seed": "-1", "lab_task": "<b>any</b>", "lab_short_frac": "nan", "lab_distance": "7"}
    values, notices = lab_state(query)
    for name in ("epochs", "k", "hidden", "n_train", "seed", "task", "short_frac"):
        assert values[f"lab_{name}"] == LAB_FIELDS[name]  # the default, never a widget's minimum
    assert values["lab_distance"] == 7 and values["lab_scheme"] == "last-k"
    assert "URL parameter lab_epochs='5000' is not a whole number from 1 to 20; using the default 20" in notices
    assert "URL parameter lab_n_train='0' is not a whole number from 2 to 2,000; using the default 1000" in notices
    assert any(n.startswith("URL parameter lab_task='<b>any</b>' is not one of prefix, any-one, planted") for n in notices)
    assert len(notices) == 7
    assert LAB_FIELDS["epochs"] == 20 and FORM_BOUNDS["epochs"] == (1, 20)


def test_lab_link_values_inside_the_form_are_kept():
    from tbptt_viz.present.params import lab_query, lab_state
    from tbptt_viz.experiments.lab.runs import LabConfig

    config = LabConfig(task="any-one", scheme="chunked", k=7, seq_len=40, clean_last=5, ones_in_window_frac=0.25,
                       n_train=300, epochs=3, hidden=16, seed=123456)
    values, notices = lab_state(lab_query(config))
    assert notices == []
    assert values == {"lab_task": "any-one", "lab_scheme": "chunked", "lab_k": 7, "lab_seed": 123456, "lab_seq_len": 40,
                      "lab_short_frac": 0.0, "lab_clean_last": 5, "lab_ones_frac": 0.25, "lab_distance": 20,
                      "lab_n_train": 300, "lab_epochs": 3, "lab_hidden": 16, "lab_update": "per-review"}
    assert lab_state({})[0]["lab_seq_len"] == 0 and lab_state({}) [1] == []


# ---- long text: kept whole in a link or not at all, shared as a file otherwise -------------------------------

def test_a_link_carries_the_whole_text_or_none_of_it():
    from urllib.parse import parse_qs, urlencode

    from tbptt_viz.present.params import MAX_LINK_CHARS, link_length, link_notice

    short = Settings(review=CUSTOM, text="i loved it . " * 100)
    q = to_query(short)
    assert q["text"] == short.text and link_notice(short) is None
    assert link_length(q) == len(urlencode(q)) <= MAX_LINK_CHARS
    assert parse_qs(urlencode(q))["text"] == [short.text]
    long = Settings(review=CUSTOM, text="the opening . " + "middle words " * 2000 + "the end .")
    q = to_query(long)
    assert "text" not in q and q["review"] == CUSTOM  # never the start of the text in its place
    notice = link_notice(long)
    assert notice.startswith("This text is too long for a link (") and "Upload a .txt" in notice
    # the link without its text reopens on the default example, with a notice pointing at the file
    back, notices = parse_query(q, MODELS, EXAMPLES)
    assert back.review == DEFAULTS.review and any(".txt file" in n for n in notices)
    # encoding counts: 2,000 non-ASCII characters need 6 encoded characters each
    wide = Settings(review=CUSTOM, text="é" * 2000)
    assert len(wide.text) < MAX_LINK_CHARS and "text" not in to_query(wide) and link_notice(wide)
    assert link_notice(Settings()) is None  # an example review has no text to carry


def test_text_file_round_trip_and_refusals():
    from tbptt_viz.present.params import text_file, text_from_file

    text = "Ünïcode review\nwith lines and emoji-like ☺ signs " * 300
    assert text_from_file(text_file(text)) == text
    assert text_from_file(b"\xef\xbb\xbfhello") == "hello"  # a byte-order mark is not part of the review
    with pytest.raises(ValueError, match="not UTF-8 text \\(byte 6\\)"):
        text_from_file(b"hello \xff world")


def test_source_is_a_token_position_with_a_notice_for_bad_values():
    from tbptt_viz.core.text import MAX_TOKENS

    s, notices = parse_query({"source": "12"}, MODELS, EXAMPLES)
    assert s.source == 12 and notices == [] and to_query(s)["source"] == "12"
    assert parse_query(to_query(s), MODELS, EXAMPLES) == (s, [])
    assert "source" not in to_query(DEFAULTS)  # no chosen word: the default word, nothing in the link
    for bad in ("abc", "-1", "1.5", str(MAX_TOKENS), "<b>3</b>"):
        s, notices = parse_query({"source": bad}, MODELS, EXAMPLES)
        assert s.source is None and len(notices) == 1 and "source is not a token position" in notices[0], bad


def test_the_followed_word_defaults_to_the_first_sentiment_bearing_word():
    from tbptt_viz.present.params import default_source, source_position

    tokens = ("the", "film", "was", "Wonderful", "and", "awful")
    assert default_source(tokens) == 3 and default_source(("a", "plain", "plot")) == 0 and default_source(()) == 0
    assert source_position(None, tokens) == 3
    assert source_position(1, tokens) == 1 and source_position((1, "film"), tokens) == 1  # a link's, a pick's
    assert source_position((1, "plot"), tokens) == 3  # picked on another review: that word is not there
    assert source_position(6, tokens) == 3 and source_position(-1, tokens) == 3  # not a position of this review
