"""For the teacher: a button that copies the link to the current view, the glossary one click away, and
`present=1` in the link for a projector (no sidebar, larger type).

The link already carries every setting (the page writes them into the URL as they change), so copying the
address bar's URL at the moment of the click copies the current view.
"""
from __future__ import annotations

import streamlit as st

from tbptt_viz.present.glossary import glossary_markdown

TRUE = ("1", "true", "yes")

# Always: less empty space above the title, so the Start page's answer fits the first screen.
PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"]{padding-top:3.2rem}
.tv-say{font-size:0.93rem}
.tv-copy{font:inherit;font-size:0.875rem;padding:0.3rem 0.75rem;border-radius:0.5rem;cursor:pointer;
  border:1px solid rgba(128,128,128,0.45);background:transparent;color:inherit;min-height:2.3rem;white-space:nowrap}
.tv-copy:hover{border-color:currentColor}
.tv-copy-status{font-size:0.8rem;color:inherit;opacity:0.75;margin-left:0.4rem}
.st-key-tv_toolbar{position:fixed;top:0.55rem;right:8.5rem;z-index:999991;width:auto !important;
  background:transparent}
@media (max-width:640px){.st-key-tv_toolbar{right:auto;left:3.4rem}
  [data-testid="stHeading"] h1{font-size:1.75rem;line-height:1.2}}
</style>"""

# present=1: the sidebar gone (its settings stay as the link set them) and every rem-sized type larger.
PRESENT_CSS = """<style class="tv-present">
html{font-size:21px}
[data-testid="stSidebar"],[data-testid="stSidebarCollapsedControl"],[data-testid="stExpandSidebarButton"],
[data-testid="stSidebarCollapseButton"]{display:none !important}
[data-testid="stMainBlockContainer"]{max-width:100%;padding-left:2rem;padding-right:2rem}
</style>"""

# The copy button runs in the page itself (st.html with JavaScript allowed): it reads the address bar when
# clicked, so it copies the view as it is then. Where the Clipboard API is missing or refused (a plain-http
# deployment), it falls back to selecting a text field and the browser's copy command, and else shows the link.
COPY_BUTTON = """<div class="tv-tools"><button type="button" class="tv-copy" id="tv-copy-link"
 title="Copy the link to this view, with every setting">Copy link</button><span
 class="tv-copy-status" id="tv-copy-status" aria-live="polite"></span></div>
<script>
(function () {
  const button = document.getElementById("tv-copy-link");
  if (!button || button.dataset.ready) return;
  button.dataset.ready = "1";
  const status = document.getElementById("tv-copy-status");
  button.dataset.url = window.location.href;
  button.addEventListener("mouseenter", () => { button.dataset.url = window.location.href; });
  const done = (copied, url) => { status.textContent = copied ? "Link copied" : "Copy this link: " + url; };
  const fallback = (url) => {
    const field = document.createElement("textarea");
    field.value = url; field.setAttribute("readonly", ""); field.style.position = "fixed"; field.style.opacity = "0";
    document.body.appendChild(field); field.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    field.remove();
    done(copied, url);
  };
  button.addEventListener("click", () => {
    const url = window.location.href;
    button.dataset.url = url;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(() => done(true, url), () => fallback(url));
    } else {
      fallback(url);
    }
  });
})();
</script>"""


def presenting() -> bool:
    """Whether the link asks for presentation mode (present=1): read once per session, kept afterwards."""
    ss = st.session_state
    if "present" not in ss:
        ss.present = str(st.query_params.get("present", "")).lower() in TRUE
    return bool(ss.present)


def page_style() -> None:
    """The page's own style sheets: compact top space always, presentation mode when the link asks."""
    st.html(PAGE_CSS + (PRESENT_CSS if presenting() else ""))


def toolbar() -> None:
    """The copy-link button and the glossary, side by side in the page's top bar (fixed there by PAGE_CSS, so
    they take no room from the first screen and stay one click away while scrolling)."""
    with st.container(horizontal=True, key="tv_toolbar", gap="small", width="content",
                      vertical_alignment="center"):
        st.html(COPY_BUTTON, unsafe_allow_javascript=True, width="content")
        with st.popover("Glossary", help="The words this page uses, defined"):
            st.markdown(glossary_markdown())
