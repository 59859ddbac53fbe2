"""The longest link (a custom review in the URL) that the app opens, measured on a local server (a script, not a
test).

    python scripts/measure_link_limit.py [--port 8791] [--browser] [--out results/bench/link_limit.json]

Starts `streamlit run app.py` on 127.0.0.1 and, for query strings of growing length (`review=custom&text=...`,
plain ASCII words, so one character of text is one character of the encoded query):
  http:     the status of GET /?<query> (what a browser fetches first);
  protocol: whether the page the server sends for that query string (Streamlit's own websocket protocol, the
            message a browser sends after loading) shows the custom review, or silently the default example;
  browser:  (--browser) the same in chromium, opening the link itself.
Then the longest GET that still answers 200 is found by bisection (and, with --browser, opened in chromium,
whose own headers are longer than urllib's). Writes the figures as JSON; README's hosting section quotes them.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import local_server  # noqa: E402

LENGTHS = (8_000, 65_536, 200_000, 500_000, 524_288, 524_289, 600_000, 1_000_000, 2_000_000)


def query_of_length(n: int) -> str:
    """A `review=custom&text=...` query string of exactly n characters (the text: ASCII words)."""
    head = "review=custom&view=Lab&text="
    words = ("good film " * (n // 10 + 2))[: n - len(head)].rstrip() or "good"
    q = urlencode({"review": "custom", "view": "Lab", "text": words})
    return q + "a" * (n - len(q)) if len(q) < n else q[:n]


def http_status(base: str, query: str) -> int | str:
    try:
        return urllib.request.urlopen(f"{base}/?{query}", timeout=60).status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception as e:  # noqa: BLE001 - reported
        return f"{type(e).__name__}"


def shows_custom(htmls: list[str]) -> bool:
    return any("<b>Your review</b>" in h for h in htmls)


async def protocol_shows(port: int, query: str) -> bool | str:
    try:
        _, page, ws = await local_server.protocol_page(port, query, timeout=120)
        await ws.close()
        return shows_custom(page.htmls)
    except Exception as e:  # noqa: BLE001 - reported
        return f"{type(e).__name__}: {str(e)[:80]}"


async def browser_shows(base: str, queries: dict[int, str]) -> dict[int, bool | str]:
    import shutil

    from playwright.async_api import async_playwright

    out = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                          args=local_server.FLAGS)
        for n, q in queries.items():
            page = await browser.new_page()
            try:
                response = await page.goto(f"{base}/?{q}", timeout=120_000)
                if response is not None and response.status >= 400:
                    out[n] = f"HTTP {response.status}"
                else:
                    await page.get_by_text("P(positive)").first.wait_for(timeout=120_000)
                    out[n] = await page.get_by_text("Your review", exact=True).count() > 0
            except Exception as e:  # noqa: BLE001 - reported
                out[n] = f"{type(e).__name__}: {str(e)[:80]}"
            await page.close()
        await browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument("--browser", action="store_true", help="also open each link in chromium")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench" / "link_limit.json"))
    args = ap.parse_args()
    os.environ["TBPTT_VIZ_WARMUP"] = "0"  # nothing but the links on the two cores
    server, base = local_server.start(args.port)
    rows = []
    try:
        queries = {n: query_of_length(n) for n in LENGTHS}
        for n, q in queries.items():
            assert len(q) == n
            row = {"query_chars": n, "http": http_status(base, q), "protocol_shows_custom": asyncio.run(
                protocol_shows(args.port, q))}
            rows.append(row)
            print(row, flush=True)
        ok = [r["query_chars"] for r in rows if r["http"] == 200]
        lo, hi = max(ok), min(r["query_chars"] for r in rows if r["query_chars"] > max(ok))
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if http_status(base, query_of_length(mid)) == 200 else (lo, mid)
        bisected = {"longest_http_200_query_chars": lo, "first_http_error": http_status(base, query_of_length(hi))}
        print(bisected, flush=True)
        if args.browser:
            near = {lo: query_of_length(lo), lo - 4096: query_of_length(lo - 4096)}
            seen = asyncio.run(browser_shows(base, {**queries, **near}))
            for row in rows:
                row["browser_shows_custom"] = seen[row["query_chars"]]
                print(row["query_chars"], "browser:", row["browser_shows_custom"], flush=True)
            bisected["browser_at_longest"] = seen[lo]
            bisected["browser_4096_below_longest"] = seen[lo - 4096]
            print(bisected, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    import streamlit

    works = [r["query_chars"] for r in rows if r["http"] == 200 and r["protocol_shows_custom"] is True
             and r.get("browser_shows_custom", True) is True]
    result = {"rows": rows, "longest_working_query_chars": max(works) if works else None, **bisected,
              "streamlit": streamlit.__version__, "command": "python scripts/measure_link_limit.py"
              + (" --browser" if args.browser else ""),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, local server on 127.0.0.1 (no proxy)",
              "date": time.strftime("%Y-%m-%d")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"longest working query string: {result['longest_working_query_chars']} characters; wrote {out}")


if __name__ == "__main__":
    main()
