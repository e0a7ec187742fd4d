// The Hookline inspector: a live list of captures over server-sent events and a detail pane. Plain DOM, no build
// step; every value from a request is put in the page with textContent, never as HTML.

const state = { captures: new Map(), selected: null, detail: null, secret: false, forwardTo: null };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function time(iso) {
  return new Date(iso).toLocaleTimeString([], { hour12: false });
}

function verdictCell(verdict) {
  if (verdict.status === "valid") return el("span", { class: "ok" }, "✔ valid");
  if (verdict.status === "invalid") return el("span", { class: "bad" }, `✘ ${verdict.code ?? "invalid"}`);
  return el("span", { class: "muted" }, "· unverified");
}

function forwardText(capture) {
  const forward = capture.forward;
  if (!forward) return capture.answerStatus ? `answered ${capture.answerStatus}` : "—";
  if (forward.error) return "✘ no answer";
  if (forward.status === null) return "…";
  return `→ ${forward.status} · ${Math.round(forward.durationMs)} ms`;
}

function visible() {
  const type = $("filter-type").value;
  const verdict = $("filter-verdict").value;
  return [...state.captures.values()]
    .filter(
      (capture) =>
        (type === "" || capture.eventType === type) && (verdict === "" || capture.verdict.status === verdict),
    )
    .sort((a, b) => (a.id < b.id ? 1 : -1));
}

function renderTypes() {
  const select = $("filter-type");
  const known = new Set([...select.options].map((option) => option.value));
  const types = [...new Set([...state.captures.values()].map((capture) => capture.eventType).filter(Boolean))].sort();
  for (const type of types) if (!known.has(type)) select.append(el("option", { value: type }, type));
}

function renderList() {
  const rows = visible().map((capture) => {
    const open = el(
      "button",
      {
        type: "button",
        class: "open",
        title: capture.receivedAt,
        "aria-label": `Show ${capture.method} ${capture.path} at ${time(capture.receivedAt)}`,
      },
      time(capture.receivedAt),
    );
    const request = el("td", { class: "path" }, el("span", { class: "method" }, capture.method), " ", capture.path);
    if (capture.replayOf) request.append(" ", el("span", { class: "replayed" }, "replay"));
    const forward = el("td", {}, forwardText(capture));
    if (capture.forward?.status >= 400 || capture.forward?.error) forward.className = "bad";
    const row = el(
      "tr",
      {
        "data-id": capture.id,
        "data-verdict": capture.verdict.status,
        "aria-selected": String(capture.id === state.selected),
      },
      el("td", {}, open),
      request,
      el("td", {}, capture.eventType ?? ""),
      el("td", { class: "num" }, size(capture.size)),
      el("td", { class: "verdict-cell" }, verdictCell(capture.verdict)),
      forward,
    );
    row.addEventListener("click", () => select(capture.id));
    return row;
  });
  const focused = document.activeElement?.closest?.("#captures tr")?.dataset.id;
  $("captures").tBodies[0].replaceChildren(...rows);
  if (focused) $("captures").querySelector(`tr[data-id="${focused}"] .open`)?.focus();
  $("empty").hidden = state.captures.size > 0;
  $("count").textContent = state.captures.size ? `(${rows.length} of ${state.captures.size})` : "";
}

function headerRows(tbody, headers) {
  tbody.replaceChildren(...headers.map(([name, value]) => el("tr", {}, el("td", {}, name), el("td", {}, value))));
}

function renderDetail() {
  const detail = state.detail;
  $("detail-empty").hidden = Boolean(detail);
  $("detail-body").hidden = !detail;
  if (!detail) return;
  const replayed = detail.replayOf ? ` · replay of ${detail.replayOf}` : "";
  $("detail-summary").textContent =
    `${detail.method} ${detail.path} · ${new Date(detail.receivedAt).toLocaleString()} · ${size(detail.size)} · ${detail.eventType ?? "no type"} · id ${detail.id}${replayed}`;

  const verdict = detail.verdict;
  $("verdict").dataset.status = verdict.status;
  $("verdict-line").textContent =
    verdict.status === "valid"
      ? `✔ valid signature${verdict.id ? ` · message ${verdict.id}` : ""}${verdict.skewSeconds !== undefined ? ` · signed ${verdict.skewSeconds} s before receipt` : ""}`
      : verdict.status === "invalid"
        ? `✘ ${verdict.code ?? "invalid"}: ${verdict.message}`
        : "· not verified: start hookline listen with --secret to check signatures";
  const hints = [...verdict.hints];
  // The timestamp codes' own hint gives the skew; for the others it is a clue worth showing.
  if (verdict.status === "invalid" && !verdict.code?.startsWith("timestamp_") && verdict.skewSeconds) {
    hints.unshift(
      `Clock skew: ${verdict.skewSeconds} s (${verdict.skewSeconds > 0 ? "signed before receipt" : "signed in the future"})`,
    );
  }
  $("diagnosis").replaceChildren(...hints.map((hint) => el("li", {}, hint)));

  $("replay-resigned").disabled = !state.secret;
  $("replay-resigned").title = state.secret ? "" : "Start hookline listen with --secret to re-sign";
  headerRows($("headers").tBodies[0], detail.headers);

  const text = detail.bodyEncoding === "utf8" ? detail.body : null;
  $("raw-info").textContent =
    `(${size(detail.size)}${detail.truncated ? ", cut at --max-body-bytes" : ""}${text === null ? ", binary, shown as base64" : ""})`;
  $("raw").textContent = detail.body;
  let pretty = null;
  try {
    // For reading only: replays and curl always send the raw bytes above.
    if (text !== null) pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch {}
  $("pretty").textContent = pretty ?? "(not JSON)";

  const forward = detail.forward;
  if (!forward) {
    $("forward-line").textContent = state.forwardTo
      ? "Not forwarded."
      : "Not forwarded: start hookline listen with --forward-to URL.";
    headerRows($("forward-headers").tBodies[0], []);
    $("forward-body").textContent = "";
  } else if (forward.error) {
    $("forward-line").textContent = `✘ ${forward.error}`;
    headerRows($("forward-headers").tBodies[0], []);
    $("forward-body").textContent = "";
  } else {
    $("forward-line").textContent = forward.status
      ? `${forward.url} answered HTTP ${forward.status} in ${forward.durationMs} ms`
      : `Forwarding to ${forward.url}…`;
    headerRows($("forward-headers").tBodies[0], forward.headers ?? []);
    $("forward-body").textContent = forward.body ?? "";
  }
}

async function select(id, focus = false) {
  state.selected = id;
  for (const row of $("captures").tBodies[0].rows) row.setAttribute("aria-selected", String(row.dataset.id === id));
  if (focus) $("captures").querySelector(`tr[data-id="${id}"] .open`)?.focus();
  const response = await fetch(`api/captures/${id}`);
  if (!response.ok || state.selected !== id) return;
  state.detail = await response.json();
  $("curl-text").hidden = true;
  $("action-status").textContent = "";
  renderDetail();
}

function upsert(capture) {
  state.captures.set(capture.id, capture);
  renderTypes();
  renderList();
  if (capture.id === state.selected) select(capture.id);
}

async function replay(resign) {
  const id = state.selected;
  $("action-status").textContent = resign ? "Replaying re-signed…" : "Replaying…";
  const response = await fetch(`api/captures/${id}/replay`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ resign }),
  });
  const answer = await response.json();
  $("action-status").textContent = response.ok
    ? `Replayed ${resign ? "re-signed" : "as is"}: answered HTTP ${answer.status}. The new request is at the top of the list.`
    : `Replay failed: ${answer.error?.message ?? response.status}`;
}

async function copyCurl() {
  const command = state.detail.curl;
  try {
    await navigator.clipboard.writeText(command);
    $("action-status").textContent = "Copied the curl command.";
  } catch {
    // No clipboard permission (an insecure context, a headless browser): show it to copy by hand.
    $("action-status").textContent = "Copy the curl command below.";
  }
  const area = $("curl-text");
  area.value = command;
  area.hidden = false;
}

function onListKey(event) {
  const rows = [...$("captures").tBodies[0].rows];
  const index = rows.findIndex((row) => row.contains(document.activeElement));
  if (index < 0) return;
  const move = { ArrowDown: 1, ArrowUp: -1, Home: -index, End: rows.length - 1 - index }[event.key];
  if (move === undefined) return;
  event.preventDefault();
  const target = rows[Math.min(rows.length - 1, Math.max(0, index + move))];
  select(target.dataset.id, true);
}

async function start() {
  const response = await fetch("api/captures");
  const list = await response.json();
  state.secret = list.secret;
  state.forwardTo = list.forwardTo;
  $("setup").textContent =
    `${list.secret ? "Verifying signatures" : "Not verifying (no --secret)"}${list.forwardTo ? ` · forwarding to ${list.forwardTo}` : ""}`;
  for (const span of document.querySelectorAll(".listen-url")) span.textContent = location.origin;
  for (const capture of list.captures) state.captures.set(capture.id, capture);
  renderTypes();
  renderList();

  const events = new EventSource("api/events");
  const connection = $("connection");
  events.addEventListener("open", () => {
    connection.dataset.state = "open";
    connection.textContent = "Live";
  });
  events.addEventListener("error", () => {
    connection.dataset.state = "closed";
    connection.textContent = "Disconnected: retrying…";
  });
  events.addEventListener("capture", (event) => upsert(JSON.parse(event.data)));

  $("filter-type").addEventListener("change", renderList);
  $("filter-verdict").addEventListener("change", renderList);
  $("captures").addEventListener("keydown", onListKey);
  $("replay").addEventListener("click", () => replay(false));
  $("replay-resigned").addEventListener("click", () => replay(true));
  $("copy-curl").addEventListener("click", copyCurl);
}

start();
