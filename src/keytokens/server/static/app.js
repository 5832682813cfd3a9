// keytokens explorer: plain JS, no build step. Every string from the server is set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { presets: {}, limits: { max_texts: 16, max_k: 100 }, spectra: {}, busy: 0 };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function status(message, isError = false) {
  const box = $("status");
  box.textContent = message || "";
  box.classList.toggle("error", Boolean(isError));
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  let data;
  try { data = await response.json(); } catch (_) { data = { detail: `HTTP ${response.status}` }; }
  if (!response.ok) throw new Error(data.detail || `HTTP ${response.status}`);
  return data;
}

async function withStatus(message, work) {
  state.busy += 1;
  status(message);
  try {
    const result = await work();
    status("");
    return result;
  } catch (error) {
    status(error.message, true);
    return null;
  } finally {
    state.busy -= 1;
  }
}

function currentPreset() { return state.presets[$("preset").value]; }

function instructionText() {
  const choice = $("instruction").value;
  if (choice === "__default") return null;
  if (choice === "__custom") return $("custom-instruction").value.trim();
  return choice;
}

function settings() {
  const preset = currentPreset();
  const body = {
    preset: preset.name,
    k: Math.max(1, Math.min(state.limits.max_k, parseInt($("k").value, 10) || 10)),
    role: $("role").value,
    token_filter: $("filter").value,
  };
  if (preset.accepts_instructions) body.instruction = instructionText();
  if (preset.lambda_adjustment) body.lam = parseFloat($("lambda").value) || 0;
  return body;
}

// three significant digits: a softmax weight of 3.5e-5 must not print as 0.00
const num = (x) => (Math.abs(x) >= 0.01 || x === 0 ? x.toFixed(3) : x.toPrecision(3));

function tokenRow(token, maxAbs, mark) {
  const row = el("div", "token");
  row.dataset.token = token.token;
  if (token.score < 0) row.classList.add("negative");
  if (mark) row.classList.add(mark);
  row.append(el("span", "label", token.token));
  const track = el("span", "track");
  const fill = el("span", "fill");
  fill.style.width = `${Math.max(2, (100 * Math.abs(token.score)) / (maxAbs || 1))}%`;
  track.append(fill);
  row.append(track, el("span", "score", num(token.score)));
  row.title = token.raw ? `${token.raw} (id ${token.id})` : `id ${token.id}`;
  return row;
}

function tokenList(tokens, marks = {}) {
  const list = el("div", "token-list");
  const maxAbs = Math.max(...tokens.map((t) => Math.abs(t.score)));
  for (const t of tokens) list.append(tokenRow(t, maxAbs, marks[t.id]));
  return list;
}

function readTexts() {
  const texts = $("texts").value.split("\n").map((t) => t.trim()).filter(Boolean);
  if (!texts.length) throw new Error("type at least one text (one per line)");
  if (texts.length > state.limits.max_texts) throw new Error(`at most ${state.limits.max_texts} texts at once`);
  return texts;
}

async function readTokens() {
  const preset = currentPreset();
  let texts;
  try { texts = readTexts(); } catch (error) { status(error.message, true); return; }
  const body = { ...settings(), texts };
  const hasOwn = preset.instructions.some((i) => i.source === "preset");
  const instructed = preset.accepts_instructions && body.instruction !== "" && (body.instruction !== null || hasOwn);
  const loading = preset.loaded ? "reading…" : `loading ${preset.name} (first use) and reading…`;
  const result = await withStatus(loading, async () => {
    const withIt = await api("/api/tokens", body);
    const without = instructed ? await api("/api/tokens", { ...body, instruction: "" }) : null;
    return { withIt, without };
  });
  if (!result) return;
  preset.loaded = true;
  renderTokens(result.withIt, result.without);
}

function renderTokens(reading, baseline) {
  const box = $("token-results");
  box.replaceChildren();
  box.classList.toggle("wide", Boolean(baseline));
  reading.results.forEach((row, i) => {
    const card = el("article", "card");
    card.append(el("h3", "", row.text));
    if (!baseline) {
      card.append(tokenList(row.tokens));
    } else {
      const before = baseline.results[i].tokens;
      const beforeIds = new Set(before.map((t) => t.id));
      const afterIds = new Set(row.tokens.map((t) => t.id));
      const gained = Object.fromEntries(row.tokens.filter((t) => !beforeIds.has(t.id)).map((t) => [t.id, "gained"]));
      const lost = Object.fromEntries(before.filter((t) => !afterIds.has(t.id)).map((t) => [t.id, "lost"]));
      const columns = el("div", "columns");
      const left = el("div"); left.append(el("h4", "", "no instruction"), tokenList(before, lost));
      const right = el("div"); right.append(el("h4", "", "with the instruction"), tokenList(row.tokens, gained));
      columns.append(left, right);
      card.append(columns);
    }
    box.append(card);
  });
}

function chips(title, tokens, kind) {
  const wrap = el("div");
  wrap.append(el("h4", "", `${title} (${tokens.length})`));
  const list = el("div", "chips");
  for (const t of tokens) list.append(el("span", `chip ${kind}`, t));
  wrap.append(list);
  return wrap;
}

async function compareTexts() {
  const a = $("text-a").value.trim();
  const b = $("text-b").value.trim();
  if (!a || !b) { status("type two texts to compare", true); return; }
  const result = await withStatus("comparing…", () => api("/api/compare", { ...settings(), texts: [a, b] }));
  if (!result) return;
  currentPreset().loaded = true;
  const box = $("compare-result");
  box.replaceChildren();
  const summary = el("div", "summary");
  const cos = el("span", "", "cosine ");
  cos.append(el("strong", "cosine", result.cosine.toFixed(3)));
  const jac = el("span", "", "token Jaccard ");
  jac.append(el("strong", "", result.jaccard.toFixed(3)));
  summary.append(cos, jac);
  box.append(summary);
  box.append(chips("shared", result.shared, "shared"), chips("only in the first", result.only_first, "first"),
    chips("only in the second", result.only_second, "second"));
  const columns = el("div", "cards");
  result.tokens.forEach((tokens, i) => {
    const card = el("article", "card");
    card.append(el("h3", "", result.texts[i]), tokenList(tokens));
    columns.append(card);
  });
  box.append(columns);
}

async function searchIndex() {
  const query = $("query").value.trim();
  if (!query) { status("type a query", true); return; }
  const body = { index: $("index").value, query, k: Math.min(state.limits.max_k, parseInt($("k").value, 10) || 10) };
  const result = await withStatus("searching…", () => api("/api/search", body));
  if (!result) return;
  const list = $("hits");
  list.replaceChildren();
  if (!result.hits.length) status("no document shares a token with this query");
  for (const hit of result.hits) {
    const item = el("li");
    const head = el("div");
    head.append(el("span", "doc", hit.id), el("span", "", `  score ${num(hit.score)}`));
    item.append(head);
    if (hit.snippet) item.append(el("div", "snippet", hit.snippet));
    if (hit.matches && hit.matches.length) {
      const tokens = hit.matches.map((m) => ({ id: m.id, token: m.token ?? String(m.id), score: m.contribution }));
      item.append(tokenList(tokens));
    }
    list.append(item);
  }
}

function fillInstructions(preset) {
  const select = $("instruction");
  select.replaceChildren();
  const hasOwn = preset.instructions.some((i) => i.source === "preset");
  if (hasOwn) select.append(new Option("role default", "__default"));
  select.append(new Option("none", ""));
  for (const i of preset.instructions) select.append(new Option(`${i.name}: ${i.text}`.slice(0, 80), i.text));
  select.append(new Option("custom…", "__custom"));
  $("instruction-box").hidden = !preset.accepts_instructions;
  $("custom-instruction").hidden = true;
}

async function fillLambda(preset) {
  $("lambda-box").hidden = !preset.lambda_adjustment;
  if (!preset.lambda_adjustment) return;
  let spectrum = state.spectra[preset.name];
  if (!spectrum) {
    spectrum = await withStatus(`loading ${preset.name} and its first component…`,
      () => api(`/api/presets/${encodeURIComponent(preset.name)}/spectrum`));
    if (!spectrum) return;
    state.spectra[preset.name] = spectrum;
    preset.loaded = true;
  }
  const slider = $("lambda");
  slider.min = spectrum.lambda_min; slider.max = spectrum.lambda_max; slider.step = spectrum.lambda_step;
  slider.value = 0;
  $("lambda-value").textContent = "0";
}

async function selectPreset() {
  const preset = currentPreset();
  const placed = preset.accepts_instructions && preset.instruction_format
    ? `instructions placed as ${JSON.stringify(preset.instruction_format)}` : "";
  $("preset-note").textContent = [preset.model, preset.family, preset.note, placed].filter(Boolean).join(" · ");
  fillInstructions(preset);
  await fillLambda(preset);
}

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function liveRefresh() {
  if (!$("tab-tokens").hidden && $("texts").value.trim()) readTokens();
  else if (!$("tab-compare").hidden && $("text-a").value.trim() && $("text-b").value.trim()) compareTexts();
}

function showTab(name) {
  for (const button of document.querySelectorAll(".tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const tab of ["tokens", "compare", "search"]) $(`tab-${tab}`).hidden = tab !== name;
}

async function start() {
  const data = await withStatus("connecting…", () => api("/api/presets"));
  if (!data) return;
  state.limits = data.limits;
  $("k").max = data.limits.max_k;
  for (const p of data.presets) {
    state.presets[p.name] = p;
    $("preset").append(new Option(`${p.name} (${p.family})`, p.name));
  }
  const indexes = await withStatus("", () => api("/api/indexes"));
  const served = indexes ? indexes.indexes : [];
  for (const i of served) $("index").append(new Option(`${i.name} (${i.n_docs ?? "?"} docs, ${i.model ?? "?"})`, i.name));
  $("no-index").hidden = served.length > 0;
  $("search-form").hidden = served.length === 0;
  await selectPreset();

  const refresh = debounce(liveRefresh, 250);
  $("preset").addEventListener("change", async () => { await selectPreset(); refresh(); });
  for (const id of ["k", "filter", "role"]) $(id).addEventListener("change", refresh);
  $("instruction").addEventListener("change", () => {
    $("custom-instruction").hidden = $("instruction").value !== "__custom";
    refresh();
  });
  $("custom-instruction").addEventListener("input", debounce(liveRefresh, 600));
  $("lambda").addEventListener("input", () => { $("lambda-value").textContent = $("lambda").value; refresh(); });
  $("lambda-reset").addEventListener("click", () => { $("lambda").value = 0; $("lambda-value").textContent = "0"; refresh(); });
  $("lambda-remove").addEventListener("click", () => {
    const spectrum = state.spectra[currentPreset().name];
    if (!spectrum) return;
    $("lambda").value = -spectrum.mean_coefficient;
    $("lambda-value").textContent = $("lambda").value;
    refresh();
  });
  $("read").addEventListener("click", readTokens);
  $("texts").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) readTokens();
  });
  $("compare").addEventListener("click", compareTexts);
  $("search").addEventListener("click", searchIndex);
  $("query").addEventListener("keydown", (event) => { if (event.key === "Enter") searchIndex(); });
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
