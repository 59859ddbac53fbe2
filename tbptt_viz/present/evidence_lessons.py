"""The two lesson steps of issue 23, now steps 4 and 6 of `lessons.LESSONS`: exposure for part 1 of the answer
(where 'love' was trained), connectivity for part 2 (how far the model carries it). Their evidence is drawn by the
lesson itself (`lessons.EVIDENCE_VIEWS`); a reveal states no number of its own.
"""
from __future__ import annotations

from tbptt_viz.present.lessons import EVIDENCE_VIEWS, LESSONS

EVIDENCE_LESSONS = tuple(lesson for lesson in LESSONS if lesson.tab in EVIDENCE_VIEWS)
