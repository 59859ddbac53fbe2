"""A view's downloads: the CSV and JSON hold its per-token numbers and name its settings."""
import json

import numpy as np

from tbptt_viz.present.downloads import export_payload, export_stem


def test_export_payload_names_the_settings():
    csv, plain, stem = export_payload("gradients", ["a", "b"], {"x": np.array([1.0, 2.0])},
                                      {"model": "imdb-full", "review": "imdb:test/1_10", "scheme": "last-k",
                                       "k": 30, "method": None})
    assert stem == "tbptt_viz_gradients_imdb-full_imdb-test-1_10_last-k_30"
    assert csv.splitlines()[0] == "t,token,steps_from_end,x" and csv.splitlines()[2] == "1,b,0,2.0"
    data = json.loads(plain)
    assert data["model"] == "imdb-full" and data["k"] == 30 and data["per_token"]["x"] == [1.0, 2.0]
    assert data["view"] == "gradients" and data["per_token"]["steps_from_end"] == [1, 0]


def test_export_stem_is_a_safe_file_name():
    stem = export_stem("memory", {"model": "../../etc", "review": "custom", "k": None})
    assert stem == "tbptt_viz_memory_..-..-etc_custom"  # every run of other characters becomes one "-"
    assert len(export_stem("x", {"model": "m" * 500})) == len("tbptt_viz_") + 120
