// tdb serve: the investigation page. Everything it shows comes from tdb
// scripts sent to POST /api/eval, so curl or a notebook can do the same.
"use strict";

const errorsBox = document.getElementById("js-errors");
function logError(message) {
  errorsBox.textContent += message + "\n";
}
window.addEventListener("error", (e) => logError("error: " + e.message + " at " + e.filename + ":" + e.lineno));
window.addEventListener("unhandledrejection", (e) => logError("unhandled: " + (e.reason && e.reason.message || e.reason)));

const params = new URLSearchParams(location.search);
const token = params.get("token") || "";
const session = Math.random().toString(36).slice(2);
const $ = (id) => document.getElementById(id);

// ---- the API ----------------------------------------------------------------

class ScriptError extends Error {
  constructor(error) {
    super(error.message + (error.line ? " (line " + error.line + ", col " + error.col + ")" : ""));
    this.info = error;
  }
}

async function api(script) {
  const headers = { "Content-Type": "application/json", "X-TDB-Session": session };
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch("/api/eval", { method: "POST", headers, body: JSON.stringify({ script }) });
  const body = await response.json();
  if (body.error) throw new ScriptError(body.error);
  return body.value;
}

/// A tdb string literal: single quotes take escapes but do not interpolate `$`.
function q(s) {
  return "'" + String(s).replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r").replace(/\t/g, "\\t") + "'";
}

// ---- state in the URL -------------------------------------------------------

const defaults = {
  view: "main", prompt: "When Mary and John went to the store, John gave a drink to", target: " Mary",
  distractor: " John", prompt2: "", kind: "all", top: "10", side: "all", sort: "", desc: "1",
  ablate: "", off: "", trace: "", c: "", head: "", test: "",
};
const state = {};
for (const k in defaults) state[k] = params.has(k) ? params.get(k) : defaults[k];

function urlFor(changes) {
  const s = Object.assign({}, state, changes);
  const p = new URLSearchParams();
  for (const k in defaults) if (s[k] !== defaults[k] && k !== "test") p.set(k, s[k]);
  return "/?" + p.toString();
}
function commit(changes, push) {
  Object.assign(state, changes);
  history[push ? "pushState" : "replaceState"](null, "", urlFor({}));
}
window.addEventListener("popstate", () => {
  const p = new URLSearchParams(location.search);
  for (const k in defaults) state[k] = p.has(k) ? p.get(k) : defaults[k];
  fillForm();
  render();
});

// Ablations: "node@pos@key" entries; `off` lists the ones toggled off.
const list = (s) => s ? s.split(",").filter(Boolean) : [];
const nodeKey = (row) => [row.node, row.pos, row.key == null ? "" : row.key].join("@");
function nodeRecord(key) {
  const [node, pos, k] = key.split("@");
  return "{node: " + q(node) + ", pos: " + Number(pos) + (k !== "" && k !== undefined ? ", key: " + Number(k) : "") + "}";
}
function activeAblations() {
  const off = new Set(list(state.off));
  return list(state.ablate).filter((a) => !off.has(a));
}
function withFlag() {
  const on = activeAblations();
  return on.length ? " --with ([" + on.map(nodeRecord).join(", ") + "] | ablate)" : "";
}
// Traces: "node@pos@key@through" hops, the last one is the objective.
function traceHops() {
  return list(state.trace).map((t) => {
    const [node, pos, key, through] = t.split("@");
    return { node, pos, key, through };
  });
}

// ---- small DOM helpers ------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), attrs[k]);
    else if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
function fmt(v) {
  if (typeof v !== "number") return v === null || v === undefined ? "" : String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(2) : v.toFixed(3);
}
function setStatus(stateName, text) {
  const s = $("status");
  s.dataset.state = stateName;
  s.textContent = text;
}
const tip = $("tip");
function hover(e, text) {
  tip.hidden = false;
  tip.textContent = text;
  tip.style.left = e.clientX + 12 + "px";
  tip.style.top = e.clientY + 12 + "px";
}
function unhover() { tip.hidden = true; }
/// White to blue (positive) or white to red (negative), for |x| <= 1.
function shade(x) {
  const a = Math.min(1, Math.abs(x));
  return x >= 0
    ? "rgb(" + Math.round(255 * (1 - a)) + "," + Math.round(255 * (1 - 0.6 * a)) + ",255)"
    : "rgb(255," + Math.round(255 * (1 - 0.7 * a)) + "," + Math.round(255 * (1 - 0.7 * a)) + ")";
}
function visible(tokenText) { return tokenText.replace(/\n/g, "↵"); }

// ---- the form ---------------------------------------------------------------

function fillForm() {
  for (const k of ["prompt", "target", "distractor", "prompt2", "kind", "top", "side"]) $(k).value = state[k];
  $("side-label").hidden = !state.prompt2;
}
$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const changes = {};
  for (const k of ["prompt", "target", "distractor", "prompt2", "kind", "top", "side"]) changes[k] = $(k).value;
  if (changes.prompt !== state.prompt || changes.prompt2 !== state.prompt2) Object.assign(changes, { ablate: "", off: "", trace: "" });
  commit(Object.assign(changes, { view: "main" }), true);
  fillForm();
  render();
});
$("swap").addEventListener("click", () => {
  const t = $("target").value;
  $("target").value = $("distractor").value;
  $("distractor").value = t;
  $("form").requestSubmit();
});
for (const k of ["kind", "side"]) $(k).addEventListener("change", () => $("form").requestSubmit());
$("home").addEventListener("click", (e) => {
  e.preventDefault();
  commit({ view: "main", trace: "" }, true);
  render();
});

// ---- views ------------------------------------------------------------------

let generation = 0;
async function render() {
  const mine = ++generation;
  const view = $("view");
  setStatus("busy", "computing…");
  try {
    let content;
    if (state.view === "component") content = await componentView();
    else if (state.view === "attn") content = await attentionView();
    else if (state.view === "sweep") content = await sweepView();
    else content = await mainView();
    if (mine !== generation) return;
    view.replaceChildren(content);
    setStatus("ready", "ready");
    await runTestMode();
  } catch (err) {
    if (mine !== generation) return;
    view.replaceChildren(el("p", { class: "error", id: "view-error" }, err.message));
    setStatus("error", "error");
    if (!(err instanceof ScriptError)) logError("error: " + err.message);
  }
}

/// The sort order of the node table: a column and a direction.
function sortRows(rows) {
  if (!state.sort) return rows;
  const k = state.sort, dir = state.desc === "1" ? -1 : 1;
  return rows.slice().sort((a, b) => {
    const x = a[k], y = b[k];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * dir;
  });
}

async function mainView() {
  const hops = traceHops();
  const p = q(state.prompt), t = q(state.target), d = q(state.distractor);
  const top = Math.max(1, Math.min(200, parseInt(state.top, 10) || 10));
  const kind = /^(all|heads|neurons|latents|embeddings)$/.test(state.kind) ? state.kind : "all";
  let script = "let r = run " + p + withFlag() + "\n";
  const parts = ["predict: (predict r --top 8)", "ld: (logitdiff r " + t + " " + d + ")", "tokens: (tokens " + p + ")"];
  if (activeAblations().length) {
    script += "let r0 = run " + p + "\n";
    parts.push("ld0: (logitdiff r0 " + t + " " + d + ")");
  }
  let against = "";
  if (state.prompt2) {
    script += "let r2 = run " + q(state.prompt2) + withFlag() + "\n";
    against = " --against r2";
  }
  if (hops.length) {
    const h = hops[hops.length - 1];
    let row = "{node: " + q(h.node) + ", pos: " + Number(h.pos) + (h.key !== "" ? ", key: " + Number(h.key) : "") + "}";
    let flags = " --top " + top + " --kind " + kind;
    if (h.through) flags += " --through " + h.through;
    if (h.through === "v") flags += " --target " + t + " --distractor " + d;
    parts.push("nodes: (" + row + " | trace r" + flags + ")");
  } else {
    parts.push("nodes: (attribute r " + t + " " + d + " --top " + top + " --kind " + kind + against + ")");
  }
  script += "{" + parts.join(", ") + "}";
  const v = await api(script);
  window.tdbLastScript = script;

  const out = el("div", {});
  // Logit difference and candidates.
  const ldText = fmt(v.ld);
  const ld = el("div", {},
    el("h2", {}, "logit[" + visible(state.target) + "] − logit[" + visible(state.distractor) + "]"),
    el("span", { class: "metric", id: "ld", "data-value": String(v.ld) }, ldText),
    v.ld0 !== undefined ? el("span", { class: "muted", id: "ld0" }, "  (without ablations: " + fmt(v.ld0) + ")") : null);
  const preds = el("table", { id: "predictions" },
    el("tr", {}, el("th", {}, "token"), el("th", {}, "prob"), el("th", {}, "logit")),
    v.predict.map((r) => el("tr", {}, el("td", { class: "tok" }, visible(r.token)), el("td", { class: "num" }, fmt(r.prob)),
      el("td", { class: "num" }, fmt(r.logit)))));
  out.append(el("div", { class: "row" }, ld, el("div", {}, el("h2", {}, "next-token candidates"), preds)));

  // Ablation list.
  const ablations = list(state.ablate), off = new Set(list(state.off));
  if (ablations.length) {
    out.append(el("h2", {}, "ablations"), el("div", { class: "chips", id: "ablations" }, ablations.map((a) => {
      const [node, pos, key] = a.split("@");
      const label = node + " @" + pos + (key ? "→" + key : "");
      return el("span", { class: "chip" + (off.has(a) ? " off" : "") },
        el("button", { title: "toggle", class: "toggle", onclick: () => {
          const o = new Set(list(state.off));
          o.has(a) ? o.delete(a) : o.add(a);
          commit({ off: [...o].join(",") }, true);
          render();
        } }, off.has(a) ? "☐" : "☑"), label,
        el("button", { title: "remove", onclick: () => {
          commit({ ablate: ablations.filter((x) => x !== a).join(","), off: list(state.off).filter((x) => x !== a).join(",") }, true);
          render();
        } }, "×"));
    })));
  }

  // Breadcrumb.
  const crumbs = el("div", { class: "crumbs", id: "breadcrumb" }, el("a", { onclick: () => { commit({ trace: "" }, true); render(); } }, "logit difference"));
  hops.forEach((h, i) => {
    crumbs.append(el("span", { class: "sep" }, "›"), el("a", { onclick: () => {
      commit({ trace: list(state.trace).slice(0, i + 1).join(",") }, true);
      render();
    } }, h.node + " @" + h.pos + (h.key !== "" ? "→" + h.key : "") + (h.through ? " (" + h.through + ")" : "")));
  });
  out.append(el("p", {}, el("a", { href: urlFor({ view: "sweep" }), id: "sweep-link" }, "head sweep and logit lens")));
  out.append(el("h2", {}, hops.length ? "upstream of the traced node" : "node table"), crumbs);
  out.append(nodeTable(v.nodes, v.tokens));
  return out;
}

function nodeTable(rows, tokens) {
  rows = sortRows(rows || []);
  const identity = ["node", "kind", "layer", "pos", "token", "key", "key_token", "token_b"];
  let columns = rows.length ? Object.keys(rows[0]) : ["node", "kind", "layer", "pos", "token", "activation", "write", "direct", "total"];
  if (state.prompt2 && state.side !== "all") {
    columns = columns.filter((c) => identity.includes(c) || c.endsWith("_" + state.side));
  }
  const ablated = new Set(list(state.ablate));
  const head = el("tr", {}, el("th", {}, ""), columns.map((c) => el("th", {
    class: state.sort === c ? (state.desc === "1" ? "sorted-desc" : "sorted-asc") : null, "data-col": c,
    onclick: () => {
      commit({ sort: c, desc: state.sort === c && state.desc === "1" ? "0" : "1" }, false);
      const t = $("nodes");
      t.replaceWith(nodeTable(rows, tokens));
    },
  }, c)));
  const body = rows.map((row) => {
    const key = nodeKey(row);
    const actions = el("td", { class: "actions" });
    actions.append(el("button", { class: "ablate", title: "ablate this node", onclick: () => {
      if (!ablated.has(key)) commit({ ablate: list(state.ablate).concat([key]).join(",") }, true);
      render();
    } }, "ablate"));
    const isHead = /^L\d+H\d+$/.test(row.node);
    const hop = (through) => () => {
      commit({ trace: list(state.trace).concat([[row.node, row.pos, row.key == null ? "" : row.key, through].join("@")]).join(",") }, true);
      render();
    };
    if (row.kind !== "embedding") {
      if (isHead) {
        for (const side of ["q", "k", "v"]) actions.append(el("button", { class: "trace-" + side, title: "trace upstream through the " + side + " side", onclick: hop(side) }, "↑" + side));
      } else {
        actions.append(el("button", { class: "trace", title: "trace upstream", onclick: hop("") }, "↑"));
      }
      actions.append(el("a", { href: urlFor({ view: "component", c: row.node }), class: "page" }, "page"));
    }
    if (isHead) actions.append(" ", el("a", { href: urlFor({ view: "attn", head: row.node }), class: "attn" }, "attn"));
    return el("tr", { class: ablated.has(key) ? "ablated" : null, "data-node": row.node },
      actions, columns.map((c) => {
        const v = row[c];
        return el("td", { class: typeof v === "number" ? "num" : (c.includes("token") ? "tok" : null) },
          typeof v === "string" && c.includes("token") ? visible(v) : fmt(v));
      }));
  });
  return el("table", { id: "nodes" }, head, body);
}

// ---- the component page (TDB's neuron viewer) -------------------------------

async function componentView() {
  const c = state.c;
  if (!/^[A-Za-z0-9_.]+$/.test(c)) throw new Error("not a component name: " + c);
  const out = el("div", { id: "component" }, el("p", {}, el("a", { href: urlFor({ view: "main", c: "" }) }, "← node table")),
    el("h2", {}, "component " + c));
  // The component on the user's own prompt first; the dataset page may be missing.
  const isHead = /^L\d+H\d+$/.test(c);
  const mine = await api("let r = run " + q(state.prompt) + withFlag() + "\n" +
    (isHead ? "{tokens: (tokens " + q(state.prompt) + "), pattern: (attn r " + c + ")}"
      : "{tokens: (tokens " + q(state.prompt) + "), acts: (act r " + c + ")}"));
  let page = null, pageError = null;
  try {
    page = await api("explain " + c);
  } catch (err) {
    pageError = err.message;
  }
  if (page) {
    out.append(el("p", { id: "explanation" }, el("b", {}, page.explanation), el("span", { class: "muted" }, "  score " + fmt(page.score) + " (" + page.method + ")")));
    out.append(el("table", { id: "stats" }, ["tokens", "mean", "variance", "frequency", "min", "max"].map((k) =>
      el("tr", {}, el("th", {}, k), el("td", { class: "num" }, fmt(page[k]))))));
    if (page.histogram) out.append(el("h2", {}, "histogram"), histogram(page.histogram));
    for (const [name, title] of [["promotes", "promoted tokens"], ["suppresses", "suppressed tokens"]]) {
      if (Array.isArray(page[name])) out.append(el("h2", {}, title), el("div", { class: "chips" }, page[name].slice(0, 12).map((t) => el("span", { class: "chip", title: fmt(t.score) }, visible(t.token)))));
    }
    for (const [name, title] of [["top", "top examples"], ["random", "random examples"]]) {
      const examples = page[name] || page[name + "_examples"];
      if (Array.isArray(examples)) {
        const scale = Math.max(1e-9, page.max || Math.max(...examples.flatMap((e) => e.acts.map(Math.abs))));
        out.append(el("h2", {}, title), el("div", { class: "examples", id: "examples-" + name }, examples.map((e) => coloured(e.tokens, e.acts, scale))));
      }
    }
  } else {
    out.append(el("p", { class: "muted", id: "page-missing" }, "no dataset page: " + pageError + " (start tdb serve with --db FILE)"));
  }
  out.append(el("h2", {}, "on your prompt"));
  if (isHead) out.append(heatmap(mine.pattern, c));
  else {
    const acts = Array.isArray(mine.acts) ? mine.acts : [];
    const scale = Math.max(1e-9, ...acts.map(Math.abs));
    out.append(el("div", { id: "prompt-acts" }, coloured(mine.tokens.map((t) => t.token), acts, scale)));
  }
  return out;
}

function coloured(tokens, acts, scale) {
  return el("div", { class: "example" }, tokens.map((t, i) => {
    const a = acts[i] || 0;
    return el("span", { class: "tok", style: "background:" + shade(a / scale), "data-act": fmt(a),
      onmousemove: (e) => hover(e, JSON.stringify(t) + "  " + fmt(a)), onmouseleave: unhover }, visible(t));
  }));
}

function histogram(bins) {
  const w = 400, h = 80, max = Math.max(1, ...bins.map((b) => b.count));
  const svg = svgEl("svg", { width: w, height: h + 14, id: "histogram" });
  const bw = w / bins.length;
  bins.forEach((b, i) => {
    const bh = h * b.count / max;
    const r = svgEl("rect", { x: i * bw, y: h - bh, width: bw - 1, height: bh, fill: "#0b63c9" });
    r.addEventListener("mousemove", (e) => hover(e, fmt(b.from) + "…" + fmt(b.to) + ": " + b.count));
    r.addEventListener("mouseleave", unhover);
    svg.append(r);
  });
  return svg;
}

// ---- attention pattern ------------------------------------------------------

async function attentionView() {
  const head = state.head;
  if (!/^L\d+H\d+$/.test(head)) throw new Error("not a head: " + head);
  const v = await api("attn (run " + q(state.prompt) + withFlag() + ") " + head);
  return el("div", { id: "attention" }, el("p", {}, el("a", { href: urlFor({ view: "main", head: "" }) }, "← node table"), " · ",
    el("a", { href: urlFor({ view: "component", c: head }) }, "component page")),
    el("h2", {}, head + " attention (query ↓, key →)"), heatmap(v, head));
}

function svgEl(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

/// A (query, key, value) table as an SVG heatmap with token labels on both axes.
function heatmap(rows, title) {
  return grid(rows, { row: "query", col: "key", value: "value", rowLabel: "query_label", colLabel: "key_label" }, title);
}

/// Any long table (row index, column index, value, optional labels) as an SVG heatmap.
function grid(rows, f, title) {
  const nr = 1 + Math.max(0, ...rows.map((r) => r[f.row])), nc = 1 + Math.max(0, ...rows.map((r) => r[f.col]));
  const rowLabels = [], colLabels = [];
  for (const r of rows) {
    rowLabels[r[f.row]] = f.rowLabel ? r[f.rowLabel] : f.row + " " + r[f.row];
    colLabels[r[f.col]] = f.colLabel ? r[f.colLabel] : String(r[f.col]);
  }
  const cell = Math.max(10, Math.min(28, Math.floor(600 / Math.max(nr, nc)))), pad = 110, top = f.colLabel ? 110 : 30;
  const svg = svgEl("svg", { width: pad + nc * cell + 10, height: top + nr * cell + 10, class: "heatmap", "data-title": title });
  for (let i = 0; i < nr; i++) {
    const t = svgEl("text", { x: pad - 4, y: top + i * cell + cell * 0.7, "text-anchor": "end" });
    t.textContent = (f.rowLabel ? i + " " : "") + visible(rowLabels[i] || "");
    svg.append(t);
  }
  for (let j = 0; j < nc; j++) {
    const c = svgEl("text", { transform: "translate(" + (pad + j * cell + cell * 0.7) + "," + (top - 4) + ") rotate(-60)" });
    c.textContent = visible(colLabels[j] || "");
    svg.append(c);
  }
  const max = Math.max(1e-9, ...rows.map((r) => Math.abs(r[f.value])));
  for (const r of rows) {
    const rect = svgEl("rect", { x: pad + r[f.col] * cell, y: top + r[f.row] * cell, width: cell - 1, height: cell - 1, fill: shade(r[f.value] / max) });
    const text = f.row + " " + r[f.row] + (f.rowLabel ? " " + JSON.stringify(r[f.rowLabel]) : "") + ", " + f.col + " " + r[f.col] +
      (f.colLabel ? " " + JSON.stringify(r[f.colLabel]) : "") + ": " + fmt(r[f.value]);
    rect.addEventListener("mousemove", (e) => hover(e, text));
    rect.addEventListener("mouseleave", unhover);
    svg.append(rect);
  }
  return svg;
}

// ---- sweeps and the logit lens ----------------------------------------------

async function sweepView() {
  const metric = "{ |x| logitdiff x " + q(state.target) + " " + q(state.distractor) + " }";
  const v = await api("let r = run " + q(state.prompt) + withFlag() + "\n" +
    "{heads: (sweep ablate r --metric " + metric + " --over heads --pos -1), lens: (lens r --top 5)}");
  const layers = [...new Set(v.lens.map((r) => r.layer))];
  const lens = el("table", { id: "lens" }, el("tr", {}, el("th", {}, "layer"), [1, 2, 3, 4, 5].map((k) => el("th", {}, "#" + k))),
    layers.map((layer) => {
      const cells = v.lens.filter((r) => r.layer === layer);
      const top = Math.max(...cells.map((r) => r.logit));
      // Softmax over the layer's top tokens: a probability among the candidates shown.
      const z = cells.reduce((a, r) => a + Math.exp(r.logit - top), 0);
      return el("tr", {}, el("td", {}, layer), cells.map((r) => {
        const p = Math.exp(r.logit - top) / z;
        return el("td", { class: "tok", style: "background:" + shade(p), title: "logit " + fmt(r.logit) + ", p among these " + fmt(p) }, visible(r.token));
      }));
    }));
  return el("div", { id: "sweep" }, el("p", {}, el("a", { href: urlFor({ view: "main" }) }, "← node table")),
    el("h2", {}, "ablating each head at the last position: change in logit difference (layer × head)"),
    grid(v.heads, { row: "layer", col: "head", value: "effect" }, "heads"),
    el("h2", {}, "logit lens at the last position (shaded by probability among the five shown)"), lens);
}

// ---- test mode: scripted interactions the browser tests check ---------------

let testStep = 0;
async function runTestMode() {
  if (state.test === "ablate-first" && testStep === 0 && state.view === "main") {
    testStep = 1;
    const before = $("ld").dataset.value;
    document.body.dataset.ldBefore = before;
    const button = document.querySelector("#nodes tr[data-node^='L'] button.ablate");
    const headRow = [...document.querySelectorAll("#nodes tr")].find((tr) => /^L\d+H\d+$/.test(tr.dataset.node || ""));
    (headRow ? headRow.querySelector("button.ablate") : button).click();
  } else if (state.test === "ablate-first" && testStep === 1) {
    testStep = 2;
    document.body.dataset.ldAfter = $("ld").dataset.value;
    document.body.dataset.testDone = "1";
  }
}

// ---- start ------------------------------------------------------------------

fillForm();
api("{model: (model)}").then((v) => {
  const m = v.model || {};
  $("model-info").textContent = [m.folder || m.name, m.layers && m.layers + " layers", m.d_model && "d_model " + m.d_model].filter(Boolean).join(" · ");
}).catch((err) => { $("model-info").textContent = err.message; });
render();
