// tbptt-viz static demo: reads the data files written by `python -m tbptt_viz export` and draws the app's
// views for any (review, model, compare, scheme, K). Review text is only ever inserted as text nodes.
"use strict";
const INDEX = window.TBPTT_INDEX;
const STORE = {};
const TBPTT = { add(key, data) { STORE[key] = data; } };
window.TBPTT = TBPTT;
const VIEWS = ["What training sees", "Gradient through time", "What the model uses", "Memory"];
const SCHEME_LABEL = { "full": "full BPTT", "last-k": "last-K", "chunked": "chunked" };
const FIRST_N = 30;
const $ = (id) => document.getElementById(id);
const state = { review: INDEX.reviews[0].id, model: "imdb-last-k30", compare: "imdb-full", scheme: "last-k",
                k: 30, view: VIEWS[0] };

// ---- settings <-> URL hash (the app's parameter names)
function readHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  const names = INDEX.models.map((m) => m.name);
  if (INDEX.reviews.some((r) => r.id === q.get("review"))) state.review = q.get("review");
  if (names.includes(q.get("model"))) state.model = q.get("model");
  if (!names.includes(state.model)) state.model = names[0];
  if (names.includes(q.get("compare"))) state.compare = q.get("compare");
  if (state.compare === state.model || !names.includes(state.compare))
    state.compare = names.find((n) => n !== state.model) || state.model;
  if (SCHEME_LABEL[q.get("scheme")]) state.scheme = q.get("scheme");
  const k = parseInt(q.get("k"), 10);
  if (k >= 1 && k <= 2000) state.k = k;
  if (VIEWS.includes(q.get("view"))) state.view = q.get("view");
}
function writeHash() {
  const q = new URLSearchParams({ review: state.review, model: state.model, compare: state.compare,
                                  scheme: state.scheme, k: String(state.k), view: state.view });
  history.replaceState(null, "", "#" + q.toString());
}

// ---- data files, loaded as scripts (works from file:// where fetch does not)
function load(review, model) {
  const key = review + "|" + model;
  if (STORE[key]) return Promise.resolve(STORE[key]);
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "data/" + encodeURIComponent(review) + "__" + encodeURIComponent(model) + ".js";
    s.onload = () => resolve(STORE[key]);
    s.onerror = () => reject(new Error("missing data for " + key));
    document.head.appendChild(s);
  });
}

// ---- the app's scheme arithmetic: windows, count, reach, and the arrays of one (scheme, K)
function snapK(k, ks) { return ks.reduce((a, b) => (Math.abs(b - k) < Math.abs(a - k) ? b : a)); }
function windows(scheme, K, T) {
  if (scheme === "full" || K >= T) return [[T - 1, 0]];
  if (scheme === "last-k") return [[T - 1, T - K]];
  const w = [];
  for (let s = 0; s < T; s += K) w.push([Math.min(s + K - 1, T - 1), s]);
  return w;
}
function countReach(wins, T) {
  const count = new Array(T).fill(0), reach = new Array(T).fill(-1);
  for (const [p, s] of wins) for (let t = s; t <= p; t++) { count[t]++; reach[t] = Math.max(reach[t], p - t); }
  return { count, reach };
}
function schemeArrays(d, scheme, K) {
  const T = d.T;
  if (scheme === "chunked" && K < T) {
    const r = d.ks.indexOf(K);
    return { input: d.chunked.input[r], hidden: d.chunked.hidden[r], cell: d.chunked.cell[r] };
  }
  const cut = scheme === "last-k" ? T - K : 0;  // last-K: full BPTT's numbers inside the window, 0 before
  const mask = (a) => a.map((v, t) => (t >= cut ? v : 0));
  return { input: mask(d.full.input), hidden: mask(d.full.hidden), cell: mask(d.full.cell) };
}

// ---- strips: the same colours as the app's render.token_strip
function colour(v, scale, signed) {
  if (!(scale > 0) || !isFinite(v)) return "transparent";
  const a = Math.pow(Math.min(1, Math.abs(v) / scale), 0.6);
  if (signed && v < 0) return `rgba(214,39,40,${(0.85 * a).toFixed(3)})`;
  if (signed) return `rgba(44,160,44,${(0.85 * a).toFixed(3)})`;
  return `rgba(255,127,14,${(0.85 * a).toFixed(3)})`;
}
function fmt(v) { return Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toPrecision(2) : (+v.toFixed(2)).toString(); }
function strip(parent, tokens, values, opt) {
  const T = tokens.length;
  const scale = opt.scale ?? Math.max(...values.map(Math.abs));
  const label = document.createElement("div");
  label.className = "tv-label"; label.textContent = opt.label;
  const div = document.createElement("div");
  div.className = "tv-strip";
  tokens.forEach((tok, t) => {
    if (opt.boundary === t) {
      const cut = document.createElement("span");
      cut.className = "tv-cut"; cut.textContent = "\u2502 K=" + opt.k + ": gradient stops here";
      div.appendChild(cut);
    }
    const span = document.createElement("span");
    const v = values[t];
    span.className = "tv-tok" + (opt.zeroIsCut && v === 0 ? " tv-zero" : "") + (t < (opt.firstN || 0) ? " tv-first" : "");
    if (!(opt.zeroIsCut && v === 0)) span.style.background = colour(v, scale, opt.signed);
    span.title = `t=${t} (${T - 1 - t} from the end) ${tok}: ${opt.valueName} ${Number(v).toPrecision(3)}`;
    span.dataset.value = String(v);
    span.textContent = tok;
    div.appendChild(span);
  });
  const leg = document.createElement("div");
  leg.className = "tv-legend";
  const bar = opt.signed ? "linear-gradient(90deg,rgba(214,39,40,0.85),rgba(255,255,255,0),rgba(44,160,44,0.85))"
                         : "linear-gradient(90deg,rgba(255,127,14,0),rgba(255,127,14,0.85))";
  for (const [cls, text] of [["", opt.valueName + ":"], ["", opt.signed ? "-" + fmt(scale) : "0"], ["bar", ""],
                             ["", (opt.signed ? "+" : "") + fmt(scale)], ["", opt.note || ""]]) {
    const s = document.createElement("span");
    if (cls) { s.className = cls; s.style.background = bar; }
    s.textContent = text;
    leg.appendChild(s);
  }
  parent.append(label, div, leg);
}

// ---- charts
const LAYOUT = (title, x, y) => ({ title: { text: title, x: 0, xanchor: "left", font: { size: 15 } },
  xaxis: { title: { text: x } }, yaxis: { title: { text: y } }, margin: { l: 55, r: 20, t: 60, b: 40 },
  legend: { orientation: "h", x: 0, y: -0.22, yanchor: "top", font: { size: 11 } }, template: "plotly_white",
  paper_bgcolor: "white", plot_bgcolor: "white" });
const CONFIG = { displaylogo: false, responsive: true };
const CHARTS = {};  // chart divs kept across redraws, so Plotly.react updates them in place
let pending = [];   // charts wait for the next idle moment: the strips (what K changes first) update at once
function chart(parent, id, traces, layout) {
  const div = CHARTS[id] || (CHARTS[id] = Object.assign(document.createElement("div"), { id, className: "chart" }));
  parent.appendChild(div);
  pending.push(() => Plotly.react(div, traces, layout, CONFIG));
}
function flushCharts() {
  const jobs = pending; pending = [];
  setTimeout(() => jobs.forEach((job) => job()), 0);
}
function read(parent, text) { const p = document.createElement("p"); p.className = "read"; p.textContent = text; parent.appendChild(p); }
const positive = (a) => a.map((v) => (v > 0 ? v : null));
const rename = (traces, name, dash) => traces.map((t) => ({ ...t, name: name + (t.name || ""),
  line: { ...(t.line || {}), dash } }));

function zeroRuns(values) {
  const runs = []; let start = null;
  values.forEach((v, i) => { if (v === 0 && start === null) start = i; if (v !== 0 && start !== null) { runs.push([start, i]); start = null; } });
  if (start !== null) runs.push([start, values.length]);
  return runs;
}

// ---- views
function draw() {
  const d = STORE[state.review + "|" + state.model], c = STORE[state.review + "|" + state.compare];
  if (!d || !c) return;
  const T = d.T;
  const ks = d.ks.concat(d.ks.includes(T) ? [] : [T]);
  const K = state.scheme === "full" ? T : snapK(state.k, ks);
  const kInput = $("k");
  kInput.max = String(ks.length - 1); kInput.value = String(ks.indexOf(K)); kInput.disabled = state.scheme === "full";
  $("kval").textContent = state.scheme === "full" ? "-" : String(K) + (K !== state.k ? ` (K=${state.k} kept in the link)` : "");
  const arr = schemeArrays(d, state.scheme, K);
  const wins = windows(state.scheme, K, T);
  const { count, reach } = countReach(wins, T);
  const zero = arr.input.filter((v) => v === 0).length;
  $("summary").textContent = `${T} tokens · ${state.model} says P(positive) = ${d.prob.toFixed(3)} · ` +
    `${SCHEME_LABEL[state.scheme]}${state.scheme === "full" ? "" : " K=" + K}: ${zero} of ${T} tokens get exactly zero gradient`;
  const view = $("view");
  view.replaceChildren();
  pending = [];
  const label = `${SCHEME_LABEL[state.scheme]}${state.scheme === "full" ? "" : " (K=" + K + ")"}`;
  if (state.view === "What training sees") {
    const fullScale = Math.max(...d.full.input);
    if (state.scheme === "full" || K >= T) {
      strip(view, d.tokens, d.full.input, { label: "Full BPTT: ||dL/dx_t|| (no truncation: one strip)", scale: fullScale, valueName: "||dL/dx_t||" });
    } else {
      strip(view, d.tokens, d.full.input, { label: "Full BPTT: ||dL/dx_t|| (darker = larger)", scale: fullScale, valueName: "||dL/dx_t||", zeroIsCut: true });
      const shared = state.scheme === "last-k";
      strip(view, d.tokens, arr.input, { label: label + ": ||dL/dx_t|| (hatched grey = exactly zero)",
        scale: shared ? fullScale : Math.max(...arr.input), valueName: "||dL/dx_t||", zeroIsCut: true,
        boundary: shared ? T - K : undefined, k: K,
        note: shared ? " (the same scale as full BPTT)" : " (its own scale: many losses add up)" });
    }
    const t = [...Array(T).keys()];
    const ends = wins.map((w) => w[0]);
    chart(view, "timeline", [
      { type: "bar", x: t, y: count, name: "losses whose gradient reaches x_t", marker: { color: "#ff7f0e" } },
      { type: "scatter", x: t, y: reach, name: "longest reach (steps to that loss; -1 = none)", yaxis: "y2", line: { color: "#1f77b4" } },
      { type: "scatter", mode: "markers", x: ends, y: ends.map(() => Math.max(...count) + 0.3), name: "a loss (prediction vs label) here",
        marker: { symbol: "triangle-down", size: 10, color: "#c0392b" } }],
      { ...LAYOUT("Backprop count and reach: " + label, "token position t", "count"),
        yaxis2: { overlaying: "y", side: "right", title: { text: "reach (steps)" }, showgrid: false, rangemode: "tozero" } });
    read(view, "Bars count how many loss terms back-propagate to each token; the line is the longest distance from the token to such a loss.");
  } else if (state.view === "Gradient through time") {
    const t = [...Array(T).keys()];
    const colours = { input: "#ff7f0e", hidden: "#1f77b4", cell: "#2ca02c" };
    const traces = [];
    for (const [key, name] of [["input", "||dL/dx_t||"], ["hidden", "||dL/dh_t||"], ["cell", "||dL/dc_t||"]]) {
      traces.push({ type: "scatter", x: t, y: positive(d.full[key]), mode: "lines", name: name + " full BPTT", line: { color: colours[key], dash: "dot", width: 2 } });
      if (state.scheme !== "full") traces.push({ type: "scatter", x: t, y: positive(arr[key]), mode: "lines", name: name + " " + label, line: { color: colours[key], width: 3 } });
    }
    const shapes = zeroRuns(arr.input).map(([a, b]) => ({ type: "rect", xref: "x", yref: "paper", x0: a - 0.5, x1: b - 0.5, y0: 0, y1: 1, fillcolor: "#bbbbbb", opacity: 0.25, line: { width: 0 } }));
    const notes = zeroRuns(arr.input).map(([a, b]) => ({ x: a - 0.5, y: 1, xref: "x", yref: "paper", text: `exactly 0 (${b - a} tokens)`, showarrow: false, xanchor: "left", yanchor: "bottom" }));
    chart(view, "through_time", traces, { ...LAYOUT("Gradient through time", "token position t (the prediction is at the right end)", "gradient norm (log scale; zero cannot be drawn)"),
      yaxis: { type: "log", exponentformat: "power", title: { text: "gradient norm (log scale)" } }, shapes, annotations: notes });
    const bias = d.figures.bias.slice();
    if (state.scheme === "last-k") bias.push({ type: "scatter", mode: "markers+text", x: [K, K], y: [d.sweep.cosine[K - 1], d.sweep.relative_error[K - 1]],
      name: "K = " + K, marker: { size: 12, color: "black" }, text: [d.sweep.cosine[K - 1].toFixed(2), d.sweep.relative_error[K - 1].toFixed(2)], textposition: "middle right" });
    chart(view, "bias", bias, { ...LAYOUT("How far is the last-K weight gradient from the full one?", "K (log scale)", "cosine / relative error"), xaxis: { type: "log", title: { text: "K (log scale)" } } });
    read(view, "For every K, the cosine between the last-K and the full gradient of the LSTM's weights, and their relative distance.");
  } else if (state.view === "What the model uses") {
    const cols = document.createElement("div"); cols.className = "cols"; view.appendChild(cols);
    const scale = Math.max(...d.occlusion.map(Math.abs), ...c.occlusion.map(Math.abs));
    for (const [name, x] of [[state.model, d], [state.compare, c]]) {
      const col = document.createElement("div"); cols.appendChild(col);
      const h = document.createElement("b"); h.textContent = `${name} · P(positive) = ${x.prob.toFixed(3)}`; col.appendChild(h);
      strip(col, x.tokens, x.occlusion, { label: "occlusion: logit drop when the token is replaced by padding", scale, signed: true, valueName: "logit drop", firstN: FIRST_N, note: " (one scale for both models)" });
    }
    const t = [...Array(T).keys()];
    chart(view, "occlusion", [d, c].map((x, i) => ({ type: "bar", x: t, y: x.occlusion, name: "occlusion (" + [state.model, state.compare][i] + ")", hovertext: x.tokens })),
      { ...LAYOUT("Occlusion: logit drop when the token is replaced by padding", "token position t", "score"), barmode: "group" });
    chart(view, "probe", [...rename(d.figures.probe, state.model, "solid"), ...rename(c.figures.probe, state.compare, "dot")],
      { ...LAYOUT("Context probe: how much of the review does the prediction need?", "n (tokens)", "P(positive)"), yaxis: { range: [0, 1], title: { text: "P(positive)" } } });
    read(view, "The probe shows the prediction when the model reads only the last n tokens, or loses the first n.");
  } else {
    chart(view, "memory", [...rename(d.figures.memory, state.model, "solid"), ...rename(c.figures.memory, state.compare, "dot")],
      { ...LAYOUT("Memory: the cell's direct path and every path", "token position t", "fraction surviving / relative influence (log)"), yaxis: { type: "log", exponentformat: "power" } });
    read(view, "Green: the product of forget gates from each position to the end (the cell's direct path). Purple: the gradient of the prediction with respect to each input, every path at once, relative to its largest value.");
  }
  flushCharts();
}

function render() {
  writeHash();
  for (const b of $("views").children) b.setAttribute("aria-selected", String(b.textContent === state.view));
  for (const [id, v] of [["review", state.review], ["model", state.model], ["compare", state.compare], ["scheme", state.scheme]]) $(id).value = v;
  Promise.all([load(state.review, state.model), load(state.review, state.compare)]).then(draw)
    .catch((e) => { $("view").textContent = "Could not load the data: " + e.message; });
}

function setup() {
  const opt = (sel, value, text) => { const o = document.createElement("option"); o.value = value; o.textContent = text; sel.appendChild(o); };
  INDEX.reviews.forEach((r) => opt($("review"), r.id, r.title));
  INDEX.models.forEach((m) => { opt($("model"), m.name, m.name + " · " + m.label); opt($("compare"), m.name, m.name + " · " + m.label); });
  VIEWS.forEach((v) => { const b = document.createElement("button"); b.setAttribute("role", "tab"); b.textContent = v;
    b.onclick = () => { state.view = v; render(); }; $("views").appendChild(b); });
  readHash();
  for (const id of ["review", "model", "compare", "scheme"]) $(id).onchange = (e) => {
    state[id] = e.target.value;
    if (state.compare === state.model) state.compare = INDEX.models.map((m) => m.name).find((n) => n !== state.model);
    render();
  };
  $("k").oninput = (e) => {
    const d = STORE[state.review + "|" + state.model];
    const ks = d.ks.concat(d.ks.includes(d.T) ? [] : [d.T]);
    state.k = ks[+e.target.value]; writeHash(); draw();
  };
  window.addEventListener("hashchange", () => { readHash(); render(); });
  render();
}
setup();
