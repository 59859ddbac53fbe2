import re

import numpy as np

from tbptt_viz.present.render import STRIP_CSS, strip_scale, text_block, token_strip


def test_hostile_tokens_are_escaped():
    html = token_strip(["<script>alert(1)</script>", '<img src=x onerror="alert(2)">', "ok"], [1.0, 0.5, 0.0],
                       boundary=1, boundary_text='K="30"<b>', label="<i>label</i>")
    assert "<script>" not in html and "<img" not in html and "<i>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html
    # every attribute value is closed where it should be: no raw quote from the text leaks out
    assert 'onerror="' not in html


def test_zero_tokens_hatched_and_boundary_placed():
    html = token_strip(["a", "b", "c", "d"], [0.0, 0.0, 1.0, 2.0], boundary=2, boundary_text="K=2",
                       zero_is_cut=True, first_n=1, last_k=2)
    spans = re.findall(r'<span class="([^"]+)"', html)
    assert spans[0].count("tv-zero") == 1 and "tv-first" in spans[0]
    assert spans[2] == "tv-cut" and "tv-last" in spans[3] and "tv-last" in spans[4]
    assert html.index("tv-cut") < html.index(">c<")


def test_text_block_escapes_and_keeps_line_breaks():
    html = text_block('<b>bold</b> & "q"\nline two\n<script>x</script>')
    body = html[len(STRIP_CSS):]
    assert html.startswith(STRIP_CSS) and body.startswith('<div class="tv-text">') and body.endswith("</div>")
    assert body == ('<div class="tv-text">&lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot;<br>line two<br>'
                    '&lt;script&gt;x&lt;/script&gt;</div>')
    assert text_block("abcdef", limit=3).endswith('<div class="tv-text">abc</div>')


def test_strip_scale_is_the_largest_magnitude():
    assert strip_scale(np.array([1.0, -3.0]), np.array([2.0])) == 3.0 and strip_scale(np.array([])) == 0.0
    assert strip_scale(np.array([-0.5]), np.array([])) == 0.5 and strip_scale() == 0.0
