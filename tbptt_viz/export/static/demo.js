// tbptt-viz static demo: reads the data files written by `python -m tbptt_viz export` and draws the app's
// views for any (review, model, compare, scheme, K). Review text is only ever inserted as text nodes.
"use strict";
const INDEX = window.TBPTT_INDEX;
// Colours, strip shades and chart layouts, generated at export from the app's present.colours / present.figures
const STYLE = window.TBPTT_STYLE, PAL = STYLE.palette;
const STORE = {};
const TBPTT = { add(key, data) { STORE[key] = data; } };
window.TBPTT = TBPTT;
const VIEWS = ["Start here", "Lessons", "What training sees", "Gradient through time", "What the model uses", "Memory"];
// the lessons, filled and computed at export (export/guide.py): texts, preset, evidence, answer
const LESSONS = INDEX.lessons || [];
const SCHEME_LABEL = { "full": "full BPTT", "last-k": "last-K", "chunked": "chunked" };
const FIRST_N = 30;
const $ = (id) => document.getElementById(id);
const state = { review: INDEX.reviews[0].id, model: "imdb-last-k30", compare: "imdb-full", scheme: "last-k",
                k: 30, view: VIEWS[0], lesson: null, teacher: false };

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
  state.teacher = ["1", "true", "yes"].includes(q.get("teacher"));  // the app's teacher mode: answers at once
  const n = parseInt(q.get("lesson"), 10);
  // a link to a lesson opens it as the app does: its review, model and scheme loaded
  if (state.view === "Lessons" && LESSONS.some((l) => l.number === n)) applyLesson(n);
}
function applyLesson(n) {
  const lesson = LESSONS.find((l) => l.number === n), p = lesson.preset;
  state.review = p.review; state.model = p.model;
  if (p.compare) state.compare = p.compare;
  if (p.scheme) state.scheme = p.scheme;
  if (p.k) state.k = p.k;
  state.view = "Lessons"; state.lesson = n;
}
function writeHash() {
  const q = new URLSearchParams({ review: state.review, model: state.model, compare: state.compare,
                                  scheme: state.scheme, k: String(state.k), view: state.view });
  if (state.view === "Lessons" && state.lesson !== null) q.set("lesson", String(state.lesson));
  if (state.teacher) q.set("teacher", "1");
  history.replaceState(null, "", "#" + q.toString());
}

// ---- data files, loaded as scripts (works from file:// where fetch does not)
function load(review, model) {
  return loadFile(review + "|" + model, encodeURIComponent(review) + "__" + encodeURIComponent(model) + ".js");
}
function loadStart(review, model, compare) {  // Start here's overview for (review, model, compare)
  return loadFile([review, model, compare, "start"].join("|"),
                  [review, model, compare].map(encodeURIComponent).join("__") + ".start.js");
}
function loadFile(key, file) {
  if (STORE[key]) return Promise.resolve(STORE[key]);
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "data/" + file;
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

// ---- strips: colours.shade and colours.ink_classes, with the constants colours.py exported
function alphaOf(v, scale) {
  if (!(scale > 0) || !isFinite(v)) return 0;
  return PAL.max_alpha * Math.pow(Math.min(1, Math.abs(v) / scale), 0.6);
}
const hueKey = (v, signed) => (!signed ? "magnitude" : v < 0 ? "negative" : "positive");
const rgba = (rgb, a) => `rgba(${rgb[0]},${rgb[1]},${rgb[2]},${a.toFixed(3)})`;
function colour(v, scale, signed) {
  const a = alphaOf(v, scale);
  return a > 0 ? rgba(PAL[hueKey(v, signed)], a) : "transparent";
}
function inkClasses(v, scale, signed) {
  const a = alphaOf(v, scale), key = { magnitude: "mag", negative: "neg", positive: "pos" }[hueKey(v, signed)];
  return [["light", "tv-fl"], ["dark", "tv-fd"]].filter(([theme]) => PAL.ink_flip[theme][key] !== null &&
    a > PAL.ink_flip[theme][key]).map(([, cls]) => " " + cls).join("");
}
const legendGradient = (signed) => (signed
  ? `linear-gradient(90deg,${rgba(PAL.negative, PAL.max_alpha)},${rgba(PAL.negative, 0)},${rgba(PAL.positive, PAL.max_alpha)})`
  : `linear-gradient(90deg,${rgba(PAL.magnitude, 0)},${rgba(PAL.magnitude, PAL.max_alpha)})`);
const modelColour = (name) => STYLE.model_colours[name] || PAL.other[0];
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
    const zero = opt.zeroIsCut && v === 0;
    span.className = "tv-tok" + (zero ? " tv-zero" : inkClasses(v, scale, opt.signed)) + (t < (opt.firstN || 0) ? " tv-first" : "");
    if (!(opt.zeroIsCut && v === 0)) span.style.background = colour(v, scale, opt.signed);
    span.title = `t=${t} (${T - 1 - t} from the end) ${tok}: ${opt.valueName} ${Number(v).toPrecision(3)}`;
    span.dataset.value = String(v);
    span.textContent = tok;
    div.appendChild(span);
  });
  const leg = document.createElement("div");
  leg.className = "tv-legend";
  const bar = legendGradient(opt.signed);
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
// A chart's layout is the app's (STYLE.layouts, laid out by present.figures); the page adds the theme's text colour
const DARK = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : { matches: false };
function LAYOUT(id, extra) {
  const base = JSON.parse(JSON.stringify(STYLE.layouts[id]));
  const theme = PAL.themes[DARK.matches ? "dark" : "light"];
  return { ...base, template: { layout: STYLE.template }, font: { ...(base.font || {}), color: theme.ink },
           ...(extra || {}) };
}
const CONFIG = { ...STYLE.chart_config, responsive: true };
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
// traces the export drew for a model called "": named and coloured for the model shown
const rename = (traces, name) => traces.map((t) => ({ ...t, name: name + (t.name || "").replace(/^P\(positive\)$/, "") }));
const recolour = (traces, name) => traces.map((t) => (t.mode === "markers+text" ? t
  : { ...t, line: { ...(t.line || {}), color: modelColour(name) } }));

function zeroRuns(values) {
  const runs = []; let start = null;
  values.forEach((v, i) => { if (v === 0 && start === null) start = i; if (v !== 0 && start !== null) { runs.push([start, i]); start = null; } });
  if (start !== null) runs.push([start, values.length]);
  return runs;
}

// the slider's ruler, as render.k_ticks: round K values at their option's place, the review's length last
function kTicks(ks) {
  const n = ks.length, marks = [];
  ks.forEach((k, i) => { if (STYLE.k_marks.includes(k) && i < n - 1) marks.push(i); });
  marks.push(n - 1);
  if (marks.length > 1 && marks[marks.length - 1] - marks[marks.length - 2] < n / 12) marks.splice(marks.length - 2, 1);
  $("kticks").replaceChildren(...(n < 2 ? [] : marks.map((i) => {
    const s = document.createElement("span");
    s.style.left = (100 * i / (n - 1)).toFixed(2) + "%";
    s.textContent = String(ks[i]) + (i === n - 1 ? " (all)" : "");
    return s;
  })));
}

// ---- the guided part: Start here and the Lessons, as export/guide.py computed them
const startCompare = () => (state.compare !== state.model ? state.compare : state.model);
function say(parent, text, cls) {
  const p = document.createElement("p"); p.className = cls || "say"; p.textContent = text; parent.appendChild(p); return p;
}
function question(parent) {
  const p = say(parent, "", "question");
  const b = document.createElement("b"); b.textContent = "The question. ";
  p.append(b, document.createTextNode(INDEX.question));
}
// an exported figure, drawn with the page's theme (its text colour) and the app's toolbar
function figure(parent, id, fig) {
  const theme = PAL.themes[DARK.matches ? "dark" : "light"];
  chart(parent, id, fig.data, { ...fig.layout, font: { ...(fig.layout.font || {}), color: theme.ink } });
}
function drawStart(view, start) {
  question(view);
  const cols = document.createElement("div"); cols.className = "start"; view.appendChild(cols);
  const left = document.createElement("div"), right = document.createElement("div");
  cols.append(left, right);
  figure(left, "start_overview", start.figure);
  start.sentences.forEach((s) => say(right, s));
  say(right, `Start here shows K = ${start.k} and an opening of ${start.n} tokens, as the app opens; the other ` +
    "views follow the K slider.", "read");
}

// a visitor's place in one lesson (present.lessons.Progress): any number of tries, a hint after a wrong one
const PROGRESS = {}, CHOICE = {};
const fresh = () => ({ tries: 0, revealed: false, right: null, wrong: [], gaveUp: false });
const progressOf = (n) => PROGRESS[n] || (PROGRESS[n] = fresh());
function check(lesson) {
  const p = progressOf(lesson.number), choice = CHOICE[lesson.number];
  if (p.revealed || choice === undefined) return;
  p.tries += 1; p.right = choice === lesson.answer;
  if (p.right) p.revealed = true; else p.wrong.push(choice);
  draw();
}
function giveUp(lesson) { const p = progressOf(lesson.number); if (!p.revealed) { p.revealed = true; p.gaveUp = true; } draw(); }
function resetLesson(n) { PROGRESS[n] = fresh(); delete CHOICE[n]; }
function button(parent, text, onclick, disabled) {
  const b = document.createElement("button"); b.type = "button"; b.textContent = text; b.onclick = onclick;
  b.disabled = Boolean(disabled); parent.appendChild(b); return b;
}
// the menu, then the open lesson's title, explanation and evidence; returns where the page's own view goes
// (null when there is nothing more to draw)
function drawLesson(view, lesson) {
  question(view);
  const bar = document.createElement("div"); bar.className = "lesson-bar"; view.appendChild(bar);
  const label = document.createElement("label"); label.textContent = "Lesson ";
  const menu = document.createElement("select"); menu.id = "lesson";
  const none = document.createElement("option"); none.value = ""; none.textContent = "Pick a lesson to open it";
  menu.appendChild(none);
  LESSONS.forEach((l) => { const o = document.createElement("option"); o.value = String(l.number); o.textContent = l.title; menu.appendChild(o); });
  menu.value = lesson ? String(lesson.number) : "";
  menu.onchange = () => { if (menu.value) { applyLesson(+menu.value); render(); } };
  label.appendChild(menu); bar.appendChild(label);
  button(bar, "Reset all lessons", () => { LESSONS.forEach((l) => resetLesson(l.number)); draw(); });
  const answered = LESSONS.filter((l) => progressOf(l.number).revealed).map((l) => l.number);
  const tried = LESSONS.filter((l) => progressOf(l.number).tries && !progressOf(l.number).revealed).map((l) => l.number);
  const parts = (answered.length ? ["answered: " + answered.join(", ")] : []).concat(tried.length ? ["tried: " + tried.join(", ")] : []);
  if (parts.length) say(view, "Lessons " + parts.join("; ") + ".", "read");
  if (state.teacher) say(view, "Teacher mode (teacher=1 in the link): answers are shown at once.", "read");
  if (!lesson) { say(view, "Pick a lesson: it loads its review, model and scheme, shows the evidence, then asks a question.", "note"); return null; }
  const h = document.createElement("h2"); h.textContent = lesson.title; view.appendChild(h);
  const p = lesson.preset;
  if (state.review !== p.review || state.model !== p.model) {
    say(view, "The settings now show another review or model than this lesson's.", "note");
    button(view, "Load this lesson's review and model again", () => { applyLesson(lesson.number); render(); });
    return null;
  }
  say(view, lesson.explain);
  if (lesson.missing) say(view, lesson.missing, "read");
  const evidence = document.createElement("div"); evidence.className = "evidence"; view.appendChild(evidence);
  if (lesson.figure) figure(evidence, "lesson_figure", lesson.figure);
  return evidence;
}
// the question under the evidence: the options, the check, the hint after a wrong answer, the answer
function ask(view, lesson) {
  const n = lesson.number, p = progressOf(n);
  const box = document.createElement("fieldset"); box.className = "ask"; view.appendChild(box);
  const legend = document.createElement("legend"); legend.textContent = lesson.question; box.appendChild(legend);
  lesson.options.forEach((text, i) => {
    const label = document.createElement("label"), input = document.createElement("input");
    input.type = "radio"; input.name = "lesson-" + n; input.value = String(i); input.checked = CHOICE[n] === i;
    input.onchange = () => { CHOICE[n] = i; draw(); };
    label.append(input, document.createTextNode(" " + text)); box.appendChild(label);
  });
  const buttons = document.createElement("div"); buttons.className = "buttons"; box.appendChild(buttons);
  if (!(p.revealed || state.teacher)) {
    button(buttons, "Check my answer", () => check(lesson), CHOICE[n] === undefined);
    if (p.tries > 0) button(buttons, "Show the answer", () => giveUp(lesson));
  }
  button(buttons, "Reset this lesson", () => { resetLesson(n); draw(); });
  if (p.right === false && !p.revealed) {
    const tried = [...new Set(p.wrong)].map((c) => `'${lesson.options[c]}'`).join(", ");
    say(box, `Not quite (${p.tries} tr${p.tries === 1 ? "y" : "ies"} so far; not ${tried}). Hint: ${lesson.hint}`, "hint");
  }
  if (!(p.revealed || state.teacher)) return;
  // as present.lessons.verdict: in teacher mode the option chosen now decides (none chosen is not right)
  const right = p.right !== null ? p.right : CHOICE[n] === lesson.answer;
  say(box, (right ? "Right. " : "The answer: " + lesson.options[lesson.answer] + ". ") + lesson.reveal,
      right ? "right" : "answer");
  lesson.found.forEach((s) => say(box, s));
  if (lesson.numbers) say(box, lesson.numbers);
}

// ---- views
function draw() {
  const d = STORE[state.review + "|" + state.model], c = STORE[state.review + "|" + state.compare];
  if (!d || !c) return;
  const T = d.T;
  const ks = d.ks.concat(d.ks.includes(T) ? [] : [T]);
  const K = state.scheme === "full" ? T : snapK(state.k, ks);
  const kInput = $("k");
  const start = state.view === "Start here" ? STORE[[state.review, state.model, startCompare(), "start"].join("|")] : null;
  kInput.max = String(ks.length - 1); kInput.value = String(ks.indexOf(K));
  kInput.disabled = state.scheme === "full" || Boolean(start);
  $("scheme").disabled = Boolean(start);
  kTicks(ks);
  $("kval").textContent = start ? `Start here shows K = ${start.k}`
    : state.scheme === "full" ? "-" : String(K) + (K !== state.k ? ` (K=${state.k} kept in the link)` : "");
  const arr = schemeArrays(d, state.scheme, K);
  const wins = windows(state.scheme, K, T);
  const { count, reach } = countReach(wins, T);
  const zero = arr.input.filter((v) => v === 0).length;
  $("summary").textContent = `${T} tokens · ${state.model} says P(positive) = ${d.prob.toFixed(3)} · ` +
    `${SCHEME_LABEL[state.scheme]}${state.scheme === "full" ? "" : " K=" + K}: ${zero} of ${T} tokens get exactly zero gradient`;
  $("view").replaceChildren();
  pending = [];
  if (start) { drawStart($("view"), start); flushCharts(); return; }
  let shown = state.view, view = $("view"), lesson = null;
  if (state.view === "Lessons") {
    lesson = LESSONS.find((l) => l.number === state.lesson) || null;
    view = drawLesson($("view"), lesson);
    if (!view) { flushCharts(); return; }
    shown = lesson.draws;
  }
  const label = `${SCHEME_LABEL[state.scheme]}${state.scheme === "full" ? "" : " (K=" + K + ")"}`;
  if (!shown) {
    // the lesson's evidence is a figure computed at export
  } else if (shown === "What training sees") {
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
      { type: "scatter", x: t, y: count, name: "losses whose gradient reaches x_t", fill: "tozeroy",
        line: { color: rgba(PAL.magnitude, 1), shape: "hvh", width: 1 } },
      { type: "scatter", x: t, y: reach, name: "longest reach (steps to that loss; -1 = none)", yaxis: "y2", line: { color: PAL.neutral, width: 2 } },
      { type: "scatter", mode: "markers", x: ends, y: ends.map(() => Math.max(...count) + 0.3), name: "a loss (prediction vs label) here",
        marker: { symbol: "triangle-down", size: 10, color: PAL.cut } }], LAYOUT("timeline"));
    read(view, `${label}: the filled steps count how many loss terms back-propagate to each token; the grey line is the longest distance from the token to such a loss.`);
  } else if (shown === "Gradient through time") {
    const t = [...Array(T).keys()];
    // as figures.gradient_through_time: the scheme in the model's colour, full BPTT grey, one dash per quantity
    const own = modelColour(state.model), dash = { input: "solid", hidden: "dash", cell: "dot" };
    const traces = [];
    for (const [key, name] of [["input", "||dL/dx_t||"], ["hidden", "||dL/dh_t||"], ["cell", "||dL/dc_t||"]]) {
      const full = state.scheme === "full";
      traces.push({ type: "scatter", x: t, y: positive(d.full[key]), mode: "lines", name: name + " full BPTT", line: { color: full ? own : PAL.neutral, dash: dash[key], width: full ? 3 : 1.5 } });
      if (!full) traces.push({ type: "scatter", x: t, y: positive(arr[key]), mode: "lines", name: name + " " + label, line: { color: own, dash: dash[key], width: 3 } });
    }
    const shapes = zeroRuns(arr.input).map(([a, b]) => ({ type: "rect", xref: "x", yref: "paper", x0: a - 0.5, x1: b - 0.5, y0: 0, y1: 1, fillcolor: PAL.zero_band, opacity: 0.25, line: { width: 0 }, layer: "below" }));
    const notes = zeroRuns(arr.input).map(([a, b]) => ({ x: a - 0.5, y: 1, xref: "x", yref: "paper", text: `exactly 0 (${b - a} tokens)`, showarrow: false, xanchor: "left", yanchor: "top" }));
    if (state.scheme === "last-k" && K < T) {
      const x = T - K - 0.5, right = T - K > T / 2;
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1, line: { color: PAL.cut, dash: "dash" } });
      notes.push({ x, y: 1, xref: "x", yref: "paper", text: "K=" + K, showarrow: false, xanchor: right ? "right" : "left", yanchor: "top" });
    }
    chart(view, "through_time", traces, LAYOUT("through_time", { shapes, annotations: notes }));
    const bias = d.figures.bias.slice();
    if (state.scheme === "last-k") bias.push({ type: "scatter", mode: "markers+text", x: [K, K], y: [d.sweep.cosine[K - 1], d.sweep.relative_error[K - 1]],
      name: "K = " + K, marker: { size: 12, color: PAL.cut, symbol: "diamond" }, text: [d.sweep.cosine[K - 1].toFixed(2), d.sweep.relative_error[K - 1].toFixed(2)], textposition: "middle right" });
    chart(view, "bias", recolour(bias, state.model), LAYOUT("bias"));
    read(view, "For every K, the cosine between the last-K and the full gradient of the LSTM's weights, and their relative distance.");
  } else if (shown === "What the model uses") {
    const cols = document.createElement("div"); cols.className = "cols"; view.appendChild(cols);
    const scale = Math.max(...d.occlusion.map(Math.abs), ...c.occlusion.map(Math.abs));
    for (const [name, x] of [[state.model, d], [state.compare, c]]) {
      const col = document.createElement("div"); cols.appendChild(col);
      const h = document.createElement("b"); h.textContent = `${name} · P(positive) = ${x.prob.toFixed(3)}`; col.appendChild(h);
      strip(col, x.tokens, x.occlusion, { label: "occlusion: logit drop when the token is replaced by padding", scale, signed: true, valueName: "logit drop", firstN: FIRST_N, note: " (one scale for both models)" });
    }
    const t = [...Array(T).keys()];
    // one filled step line per model, in its colour (as figures.occlusion_probe_figure)
    chart(view, "occlusion", [[state.model, d], [state.compare, c]].map(([name, x]) => ({ type: "scatter", x: t, y: x.occlusion, name,
      hovertext: x.tokens, fill: "tozeroy", line: { shape: "hvh", width: 1, color: modelColour(name) } })), LAYOUT("occlusion"));
    chart(view, "probe", [...rename(recolour(d.figures.probe, state.model), state.model),
                          ...rename(recolour(c.figures.probe, state.compare), state.compare)], LAYOUT("probe"));
    read(view, "The probe shows the prediction when the model reads only the last n tokens, or loses the first n.");
  } else {
    chart(view, "memory", [...rename(recolour(d.figures.memory, state.model), state.model),
                           ...rename(recolour(c.figures.memory, state.compare), state.compare)], LAYOUT("memory"));
    read(view, "Each model in its own colour. Solid: the product of forget gates from each position to the end (the cell's direct path). Dotted: the gradient of the prediction with respect to each input, every path at once, relative to its largest value.");
  }
  if (lesson) ask($("view"), lesson);
  flushCharts();
}

function render() {
  writeHash();
  for (const b of $("views").children) b.setAttribute("aria-selected", String(b.textContent === state.view));
  for (const [id, v] of [["review", state.review], ["model", state.model], ["compare", state.compare], ["scheme", state.scheme]]) $(id).value = v;
  const files = [load(state.review, state.model), load(state.review, state.compare)];
  if (state.view === "Start here") files.push(loadStart(state.review, state.model, startCompare()));
  Promise.all(files).then(draw)
    .catch((e) => { $("view").textContent = "Could not load the data: " + e.message; });
}

function setup() {
  const opt = (sel, value, text) => { const o = document.createElement("option"); o.value = value; o.textContent = text; sel.appendChild(o); };
  INDEX.reviews.forEach((r) => opt($("review"), r.id, r.title));
  INDEX.models.forEach((m) => { opt($("model"), m.name, m.name + " · " + m.label); opt($("compare"), m.name, m.name + " · " + m.label); });
  VIEWS.forEach((v) => { const b = document.createElement("button"); b.setAttribute("role", "tab"); b.textContent = v;
    b.onclick = () => { state.view = v; render(); }; $("views").appendChild(b); });
  readHash();
  // on a phone the settings start folded, so that the view (Start here's figure, a lesson) is on the first screen
  if (window.matchMedia && window.matchMedia("(max-width: 600px)").matches) $("settings").open = false;
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
  if (DARK.addEventListener) DARK.addEventListener("change", () => draw());  // the charts' text follows the theme
  render();
}
setup();
