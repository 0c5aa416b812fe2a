// WhatsApp Health page: the fleet table and one channel's view, from the plugin's health API.
// Plain JavaScript on purpose (no build step). Requests are same-origin, so the browser sends the
// Airflow UI's httponly `_token` session cookie: the page has no login and no token of its own.
// Every value from the API is inserted with textContent (never innerHTML): names come from Meta.
"use strict";

const API = "../api/v1";
const AIRFLOW_API = "../../api/v2";
const REGISTER_DAG = "whatsapp_register_channel";
const RUN_POLL_MS = 3000;
const RUN_POLL_LIMIT = 60;
// Labels, severities and filter values come from the API (GET /api/v1/vocabulary), derived from
// the provider's one health declaration: the page keeps no copy of any enum.
let VOCABULARY = null;
const COLOUR = { ok: "green", neutral: "grey", warning: "amber", critical: "red" };

// ---- small DOM helpers ----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const show = (node) => document.getElementById("view").replaceChildren(node);
const dash = (value) => (value === null || value === undefined || value === "" ? "–" : String(value));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");

function notice(message) {
  const box = document.getElementById("notice");
  box.hidden = !message;
  box.replaceChildren(...(message ? [message] : []));
}

// ---- badges: colours from the vocabulary's severities --------------------------------------------

function severities(field) {
  if (field in VOCABULARY && field !== "health_fields" && field !== "filters") return VOCABULARY[field];
  const health = VOCABULARY.health_fields.find((f) => f.name === field);
  return health ? health.severities : {};
}

function tone(field, value) {
  if (value === null || value === undefined) return "grey";
  return COLOUR[severities(field)[value] || "neutral"];
}

function badge(field, value) {
  return el("span", { class: `badge badge-${tone(field, value)}`, "data-field": field }, dash(value));
}

// A health field's value in the channel shape (``throughput.level`` is nested).
const valueAt = (shape, path) => path.reduce((node, key) => (node == null ? null : node[key]), shape);
// The badge-worthy health fields (identity fields are shown as text).
const badgeFields = () => VOCABULARY.health_fields.filter((f) => !["display_phone_number", "verified_name"].includes(f.name));

// ---- API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    const graph = body && body.error;
    const detail = graph ? `${graph.message} (Graph ${graph.type}, code ${graph.code}/${graph.subcode})`
      : (body && typeof body.detail === "string" ? body.detail : JSON.stringify(body && body.detail));
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    ...options,
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401) {
    const login = el("a", { href: `../../auth/login?next=${encodeURIComponent(location.href)}`, target: "_top" },
      "log in again");
    notice(el("span", {}, "Your Airflow session has ended: ", login, "."));
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// ---- routing: #/ (fleet, with filters in the query) and #/channels/<account>/<inbox> ----------

async function route() {
  notice("");
  if (!VOCABULARY) VOCABULARY = await api(`${API}/vocabulary`);
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  const channel = path.match(/^\/channels\/(\d+)\/(\d+)$/);
  const render = channel ? renderChannel(channel[1], channel[2]) : renderFleet(new URLSearchParams(query));
  await render.catch((error) => notice(`Could not load: ${error.message}`));
}

// ---- the fleet ------------------------------------------------------------------------------

function summary(counts) {
  const group = (title, field) =>
    el("div", { "data-testid": `summary-${field}` }, el("span", { class: "muted" }, `${title}:`),
      Object.entries(counts[field] || {}).map(([value, n]) =>
        el("span", { class: `badge badge-${tone(field, value === "none" ? null : value)}` }, `${value} ${n}`)));
  return el("section", { class: "summary" },
    el("div", {}, el("strong", { "data-testid": "summary-total" }, `${counts.channels} channels`)),
    group("Provisioning", "provisioning"),
    group("Quality", "quality_rating"),
    group("Registration", "registration_state"),
    group("Reauthorization", "reauthorization_reason"));
}

function filterBar(params) {
  const apply = () => {
    const next = new URLSearchParams();
    for (const select of document.querySelectorAll("select[data-filter]")) {
      if (select.value) next.set(select.dataset.filter, select.value);
    }
    location.hash = `#/?${next}`;
  };
  return el("form", { class: "filters", "data-testid": "filters", onsubmit: (e) => e.preventDefault() },
    Object.entries(VOCABULARY.filters).map(([field, values]) =>
      el("label", {}, field.replace(/_/g, " "),
        el("select", { "data-filter": field, onchange: apply },
          el("option", { value: "" }, "any"),
          values.map((v) => el("option", { value: v, selected: params.get(field) === v }, v))))));
}

function fleetRow(c) {
  const open = () => { location.hash = `#/channels/${c.account_id}/${c.inbox_id}`; };
  return el("tr", { class: "clickable", "data-testid": "channel-row", "data-inbox": c.inbox_id, onclick: open },
    el("td", {}, c.account_id), el("td", {}, c.inbox_id),
    el("td", { class: "nowrap" },
      el("a", { href: `#/channels/${c.account_id}/${c.inbox_id}` }, dash(c.display_phone_number))),
    el("td", {}, dash(c.verified_name),
      (c.notes || []).map((note) => el("div", { class: "muted", "data-testid": "lifecycle-note" }, note))),
    badgeFields().map((f) => el("td", {}, badge(f.name, valueAt(c, f.api_path)))),
    el("td", {}, badge("provisioning", c.provisioning)),
    el("td", {}, badge("registration_state", c.registration.state)),
    el("td", { class: "nowrap" }, when(c.checked_at)));
}

async function renderFleet(params) {
  const query = new URLSearchParams([...params].filter(([key, value]) => key in VOCABULARY.filters && value));
  const data = await api(`${API}/fleet?${query}`);
  const audit = data.last_audit;
  document.getElementById("last-audit").textContent = audit
    ? `Last fleet audit: ${when(audit.created_at)}` : "No fleet audit summary yet";
  const headers = ["Account", "Inbox", "Phone", "Name", ...badgeFields().map((f) => f.label), "Provisioning",
    "Registration", "Checked"];
  show(el("div", {},
    summary(data.counts),
    filterBar(params),
    el("p", { class: "muted", "data-testid": "fleet-total" }, `${data.total} matching`),
    el("table", { "data-testid": "fleet-table" },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, data.channels.map(fleetRow)))));
}

// ---- one channel ----------------------------------------------------------------------------

function needsRegistration(h) {
  return h.provisioning !== "provisioned" || h.code_verification_status !== "VERIFIED";
}

function labelled(title, node) {
  return el("div", {}, title, node);
}

function registrationBanner(h) {
  const result = el("div", { class: "run", "data-testid": "register-result" });
  const button = el("button", { class: "primary", type: "button", "data-testid": "complete-registration" },
    "Complete registration");
  button.addEventListener("click", () => completeRegistration(h, button, result));
  const reason = h.reauthorization_reason && h.reauthorization_reason !== "registration_incomplete"
    ? el("p", {}, `The customer must also reauthorize (${h.reauthorization_reason}) before registering can work.`)
    : null;
  return el("section", { class: "banner", "data-testid": "registration-banner" },
    el("h3", {}, "Registration incomplete"),
    el("p", {}, "Meta has not put this number on the Cloud API yet (it shows as Pending in WhatsApp Manager). ",
      "Complete registration queues the ", el("code", {}, REGISTER_DAG),
      " DAG: it re-reads live health and registers only when the display name allows it, within the 72 h budget."),
    reason,
    el("div", { class: "actions" }, button,
      el("span", { class: "muted" }, `State: ${h.registration.state}; ${h.registration.attempts_72h} register `
        + `call(s) in the last 72 h (budget 8); next automatic try ${when(h.registration.next_attempt_at)}`)),
    result);
}

async function completeRegistration(h, button, result) {
  button.disabled = true;
  result.replaceChildren("Queueing…");
  try {
    const run = await api(`${API}/accounts/${h.account_id}/inboxes/${h.inbox_id}/register`, { method: "POST" });
    const state = el("span", { class: "badge badge-amber", "data-testid": "run-state" }, run.state);
    const paused = el("p", { "data-testid": "dag-paused" },
      `The ${REGISTER_DAG} DAG is paused in Airflow: the run starts once it is unpaused.`);
    result.replaceChildren("DAG run ",
      el("a", { href: run.url, target: "_top", "data-testid": "run-link" }, run.dag_run_id), " created: ", state,
      ...(run.dag_paused ? [paused] : []));
    pollRun(run.dag_run_id, state);
  } catch (error) {
    result.replaceChildren(el("span", { "data-testid": "register-error" }, error.message));
    button.disabled = error.status === 409;
  }
}

async function pollRun(runId, stateBadge, round = 0) {
  try {
    const run = await api(`${AIRFLOW_API}/dags/${REGISTER_DAG}/dagRuns/${encodeURIComponent(runId)}`);
    stateBadge.textContent = run.state;
    stateBadge.className = `badge badge-${{ success: "green", failed: "red" }[run.state] || "amber"}`;
    if (["success", "failed"].includes(run.state)) return;
  } catch (error) {
    return; // the run link still works; a viewer without run access cannot poll
  }
  if (round < RUN_POLL_LIMIT) setTimeout(() => pollRun(runId, stateBadge, round + 1), RUN_POLL_MS);
}

function attemptsTable(attempts) {
  if (!attempts.length) return el("p", { class: "muted", "data-testid": "attempts" }, "No register call sent yet.");
  return el("table", { "data-testid": "attempts" },
    el("thead", {}, el("tr", {}, ["When", "Outcome", "Graph error", "Message", "State after", "Run"]
      .map((t) => el("th", {}, t)))),
    el("tbody", {}, attempts.map((a) => el("tr", {},
      el("td", {}, when(a.attempted_at)),
      el("td", {}, el("span", { class: `badge badge-${a.outcome === "success" ? "green" : "red"}` }, a.outcome)),
      el("td", {}, a.code === null ? "–" : `${a.code}${a.subcode === null ? "" : ` / ${a.subcode}`}`),
      el("td", {}, dash(a.message)),
      el("td", {}, a.resulting_state),
      el("td", {}, dash(a.run_id))))));
}

function historyTable(history) {
  if (!history.length) return el("p", { class: "muted", "data-testid": "history" }, "No health check yet.");
  return el("table", { "data-testid": "history" },
    el("thead", {}, el("tr", {}, ["Checked", "Quality", "Name status", "Status", "Platform", "Tier",
      "Provisioning", "Error"].map((t) => el("th", {}, t)))),
    el("tbody", {}, history.map((c) => el("tr", {},
      el("td", {}, when(c.checked_at)),
      el("td", {}, c.error ? "–" : badge("quality_rating", c.quality_rating)),
      el("td", {}, c.error ? "–" : badge("name_status", c.name_status)),
      el("td", {}, dash(c.status)),
      el("td", {}, dash(c.platform_type)),
      el("td", {}, dash(c.messaging_limit_tier)),
      el("td", {}, dash(c.provisioning)),
      el("td", {}, c.error ? `${c.error.type}: ${dash(c.error.message)} (${c.error.code}/${c.error.subcode})` : "")))));
}

async function renderChannel(accountId, inboxId, refresh = false) {
  const base = `${API}/accounts/${accountId}/inboxes/${inboxId}`;
  let h;
  try {
    h = await api(`${base}/health${refresh ? "?refresh=true" : ""}`);
  } catch (error) {
    if (!refresh) throw error;
    notice(`Live refresh failed: ${error.message}`);
    h = await api(`${base}/health`);
  }
  const [{ attempts }, { history }] = await Promise.all([api(`${base}/attempts`), api(`${base}/history`)]);
  const refreshButton = el("button", { type: "button", "data-testid": "refresh" }, "Refresh from Meta");
  refreshButton.addEventListener("click", () => {
    refreshButton.disabled = true;
    renderChannel(accountId, inboxId, true).catch((error) => notice(`Could not load: ${error.message}`));
  });
  const error = h.registration.last_error;
  show(el("div", { "data-testid": "channel-view" },
    el("p", {}, el("a", { href: "#/" }, "← All channels")),
    el("h2", {}, `${dash(h.verified_name)} · ${dash(h.display_phone_number)}`),
    el("div", { class: "toolbar" },
      el("a", { href: h.links.whatsapp_manager, target: "_blank", rel: "noopener", "data-testid": "manager-link" },
        "Open in WhatsApp Manager"),
      refreshButton,
      el("span", { class: "muted" }, `Checked ${when(h.checked_at)}`)),
    el("div", { class: "badges", "data-testid": "badges" },
      badgeFields().map((f) => labelled(f.label, badge(f.name, valueAt(h, f.api_path)))),
      labelled("Provisioning", badge("provisioning", h.provisioning)),
      labelled("Registration", badge("registration_state", h.registration.state))),
    needsRegistration(h) ? registrationBanner(h) : null,
    (h.notes || []).map((note) => el("p", { class: "banner", "data-testid": "lifecycle-note" }, note)),
    el("dl", { class: "details" },
      el("dt", {}, "Account / inbox"), el("dd", {}, `${h.account_id} / ${h.inbox_id}`),
      el("dt", {}, "Phone number id"), el("dd", {}, h.phone_number_id),
      el("dt", {}, "WABA / business"), el("dd", {}, `${h.waba_id} / ${h.business_id}`),
      el("dt", {}, "Code verification"), el("dd", {}, dash(h.code_verification_status)),
      el("dt", {}, "Reauthorization"),
      el("dd", {}, h.reauthorization_required ? `required (${h.reauthorization_reason})` : "not required"),
      el("dt", {}, "Last register error"),
      el("dd", {}, error ? `${error.type}: ${dash(error.message)} (${error.code}/${error.subcode})` : "–")),
    el("h2", {}, "Registration attempts"),
    attemptsTable(attempts),
    el("h2", {}, "Health history"),
    historyTable(history)));
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", route);
