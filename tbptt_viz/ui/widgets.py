"""What every view draws with: escaped HTML, notices, charts, token strips, downloads, the K control, and a
guard that turns a view's error into a message."""
from __future__ import annotations

import html as markup

import streamlit as st

from tbptt_viz.core.checkpoint import CheckpointError
from tbptt_viz.core.schemes import SchemeError
from tbptt_viz.present.downloads import export_payload, export_stem
from tbptt_viz.present.figures import CHART_CONFIG
from tbptt_viz.present.render import legend, token_strip
from tbptt_viz.serving.service import ServiceBusy

NOTICE_COLOURS = {"warning": ("#fff8e1", "#8a6d00"), "error": ("#fdecea", "#a12622"), "info": ("#e8f1fb", "#1d4f91")}


def esc(text) -> str:
    return markup.escape(str(text))


def html(body: str) -> None:
    """Our own HTML (escaped wherever it holds a visitor's text): never passes through Markdown. The strips'
    style sheet is sent once per page (app.py), not with every element: each new sheet restyles the page."""
    st.html(body)


def notice(kind: str, text: str) -> None:
    """A message that may quote a visitor's value: shown as escaped HTML in the message's colours."""
    bg, fg = NOTICE_COLOURS[kind]
    st.html(f'<div role="alert" class="tv-notice tv-{kind}" style="background:{bg};color:{fg};padding:0.6rem 0.8rem;'
            f'border-radius:0.4rem;overflow-wrap:anywhere">{esc(text)}</div>')


def chart(fig, key: str) -> None:
    st.plotly_chart(fig, key=key, config=CHART_CONFIG)


def how_to_read(text: str) -> None:
    st.caption(f"**How to read this.** {text}")


def strip(tokens, values, label: str, *, scale: float, signed: bool = False, value_name: str, note: str = "",
          **kw) -> None:
    """One token strip and its numeric legend (see `render.token_strip` for the keywords)."""
    html(token_strip(tokens, values, scale=scale, signed=signed, label=label, value_name=value_name, **kw)
         + legend(scale, signed, value_name, note))


def export_buttons(view: str, tokens, columns: dict, meta: dict) -> None:
    """CSV and JSON downloads, built only when clicked (never on the K slider's path) and without a rerun."""
    stem = export_stem(view, meta)
    c1, c2, _ = st.columns([1, 1, 3])
    c1.download_button("Download CSV", lambda: export_payload(view, tokens, columns, meta)[0], f"{stem}.csv",
                       "text/csv", key=f"csv_{view}", on_click="ignore")
    c2.download_button("Download JSON", lambda: export_payload(view, tokens, columns, meta)[1],
                       f"{stem}.json", "application/json", key=f"json_{view}", on_click="ignore")


def guarded(title: str, draw, *args) -> None:
    """Draw one view; an error becomes a message and the rest of the page still works."""
    try:
        draw(*args)
    except (ImportError, ModuleNotFoundError) as e:
        st.info(f"{title} is not available in this installation ({type(e).__name__}).")
    except ServiceBusy:
        notice("warning", f"{title}: the server is busy with other visitors' requests right now; try again in a "
                          "moment (change a setting or reload).")
    except (SchemeError, ValueError, CheckpointError) as e:
        notice("error", f"{title} could not be drawn: {e}. Change the setting in the sidebar; the other views "
                        "still work.")
    except Exception as e:  # noqa: BLE001 - nothing may reach the page as a traceback
        notice("error", f"{title} could not be drawn ({type(e).__name__}: {e}). Try another review, a shorter text "
                        "or another model; the other views still work.")


@st.fragment
def k_fragment(title: str, draw, *args) -> None:
    """A view whose controls (the K slider) rerun only this part of the page, never the whole script."""
    guarded(title, draw, *args)
