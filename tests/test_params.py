from tbptt_viz.present.params import CUSTOM, DEFAULTS, Settings, parse_query, snap_k, to_query

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


def test_app_methods_are_the_attribution_methods():
    from tbptt_viz.attribution.methods import METHODS
    from tbptt_viz.present.params import METHODS as APP_METHODS

    assert set(APP_METHODS) == set(METHODS)


def test_compare_equal_to_model_is_said_and_dropped():
    s, notices = parse_query({"model": MODELS[0], "compare": MODELS[0]}, MODELS, EXAMPLES)
    assert s.compare == "" and "with itself" in notices[0]


def test_lab_update_rule_round_trips_through_the_url_and_bad_values_keep_the_default():
    from tbptt_viz.experiments.lab.runs import LabConfig
    from tbptt_viz.present.params import LAB_KEYS, lab_query, lab_state

    assert "lab_update" in LAB_KEYS
    q = lab_query(LabConfig(scheme="chunked", k=10, update="per-chunk"))
    assert q["lab_update"] == "per-chunk"
    assert lab_state(q)["lab_update"] == "per-chunk"
    assert lab_state({"lab_update": "per-epoch"})["lab_update"] == "per-review"
    assert lab_state({})["lab_update"] == "per-review"
