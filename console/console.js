// The operator console (README.md#operator-console): reads the admin API with the pasted token.
// Everything shown comes from outside (subscriber handles, event types, reasons): it is put in
// the page as text only (textContent, DOM nodes), never as markup.
import { LANE_OF_KIND, LANES, NOTABLE_GAP_MS } from "./lanes.js"

/** The token lives in this tab's session storage only: gone when the tab closes, never sent anywhere but the API. */
const TOKEN_KEY = "hbf-lcg-admin-token"

const byId = (id) => document.getElementById(id)

/** An element with properties (`class`, `text`, other attributes) and children (nodes or strings, both as text). */
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue
    if (key === "class") node.className = value
    else if (key === "text") node.textContent = String(value)
    else node.setAttribute(key, String(value))
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child)
  return node
}

const button = (label, onClick) => {
  const node = el("button", { type: "button", text: label })
  node.addEventListener("click", onClick)
  return node
}

// ---- messages ----
const show = (text, kind = "info") => {
  const message = byId("message")
  message.textContent = text
  message.className = kind
  message.hidden = false
}
const clearMessage = () => {
  byId("message").hidden = true
}

// ---- the token ----
const token = () => sessionStorage.getItem(TOKEN_KEY)

const showTokenState = () => {
  byId("token-state").textContent = token() ? "token set for this tab" : "no token"
}

/** An API error as an operator reads it. */
class ApiError extends Error {}

const describeFailure = (status, body) => {
  const said = body && typeof body.message === "string" ? body.message : ""
  if (status === 401) return `The gateway refused the token (401)${said ? `: ${said}` : ""}. Paste a valid admin token.`
  if (status === 403) return `This token may not use the admin API (403)${said ? `: ${said}` : ""}.`
  if (status === 404) return `Not found (404)${said ? `: ${said}` : ""}.`
  if (status >= 500) return `The gateway failed (${status})${said ? `: ${said}` : ""}. Try again.`
  return `The gateway answered ${status}${said ? `: ${said}` : ""}.`
}

/** Calls the admin API with the token: its JSON answer, or an ApiError saying what went wrong. */
const api = async (method, path) => {
  const current = token()
  if (!current) throw new ApiError("Paste an admin token first.")
  let response
  try {
    response = await fetch(path, { method, headers: { authorization: `Bearer ${current}` } })
  } catch {
    throw new ApiError("The gateway did not answer.")
  }
  const text = await response.text()
  let body
  try {
    body = text === "" ? undefined : JSON.parse(text)
  } catch {
    body = undefined
  }
  if (!response.ok) throw new ApiError(describeFailure(response.status, body))
  return body
}

/** Runs an action, showing its failure (an ApiError's text, or the error) instead of throwing. */
const attempt = (action) => async (event) => {
  if (event) event.preventDefault()
  clearMessage()
  try {
    await action()
  } catch (error) {
    show(error instanceof ApiError ? error.message : `Unexpected error: ${error}`, "error")
  }
}

const query = (params) => {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value)
  const text = search.toString()
  return text ? `?${text}` : ""
}

// ---- timeline ----
const clock = (iso) => iso.slice(11, 23)

/** A duration as read at a glance: 38 ms, 1.3 s, 42 s, 5 min. */
const seconds = (ms) => {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`
  return `${Math.round(ms / 60_000)} min`
}

const trigger = (t) =>
  t === undefined
    ? ""
    : t.by === "event"
    ? `event ${t.eventId}`
    : t.by === "timeout"
    ? `${t.timeout} timeout`
    : `call ${t.operation}`

/** An entry's headline and details (field, value), by kind. */
const describeEntry = (e) => {
  switch (e.kind) {
    case "created":
      return [`created (${e.provider})`, [["channel", e.channel], ["queue", e.queue]]]
    case "state":
      return [`${e.from} → ${e.to}`, []]
    case "provider.call":
      return [`${e.operation}: ${e.outcome}`, [["status", e.status], ["attempt", e.attempt], [
        "latency",
        `${e.latencyMs} ms`
      ]]]
    case "event.received":
      return [`received ${e.type} via ${e.via}`, [["event", e.eventId]]]
    case "event.dropped":
      return [`dropped ${e.type ?? "event"}: ${e.reason}`, [["event", e.eventId], ["via", e.via]]]
    case "delivery":
      return [`${e.outcome} to ${e.target}, attempt ${e.attempt}`, [["status", e.status], ["seq", e.seq], [
        "latency",
        `${e.latencyMs} ms`
      ], ["event", e.eventId]]]
    case "dead-letter":
      return [`dead letter for ${e.target} after ${e.attempts} attempts`, [["reason", e.reason], ["event", e.eventId]]]
    case "replayed":
      return [`replayed to ${e.target}`, [["event", e.eventId]]]
    case "ended":
      return [`ended: ${e.reason}`, [["by", trigger(e.trigger)]]]
    default:
      return [String(e.kind), []]
  }
}

const troubled = (e) =>
  e.kind === "event.dropped" || e.kind === "dead-letter" || e.outcome === "failed" || e.outcome === "refused" ||
  e.outcome === "no-answer"

const entryRow = (e, start) => {
  const [headline, details] = describeEntry(e)
  const lane = LANE_OF_KIND[e.kind] ?? "gateway"
  const card = el(
    "div",
    { class: `entry${troubled(e) ? " troubled" : ""}`, "data-kind": e.kind },
    el("div", { class: "kind", text: e.kind }),
    el("div", { class: "headline", text: headline })
  )
  const shown = details.filter(([, value]) => value !== undefined && value !== "")
  if (shown.length > 0) {
    card.append(el("div", { class: "details", text: shown.map(([key, value]) => `${key} ${value}`).join(" · ") }))
  }
  const row = el(
    "div",
    { class: "tl-row" },
    el("div", { class: "tl-time", title: e.at, text: `${clock(e.at)}  +${seconds(Date.parse(e.at) - start)}` })
  )
  for (const name of LANES) row.append(el("div", { class: `tl-cell lane-${name}` }, name === lane ? card : undefined))
  return row
}

/** A gap's marker; its height grows with the gap's length (logarithmically, so an hour does not fill the screen). */
const gapRow = (ms) =>
  el(
    "div",
    { class: "tl-gap", "data-gap-ms": ms, "aria-label": `gap of ${seconds(ms)}` },
    el("span", {
      text: `+${seconds(ms)}`
    })
  )

const renderTimeline = (timeline) => {
  const root = byId("timeline")
  root.replaceChildren()
  if (timeline.entries.length === 0) {
    root.append(el("p", { class: "muted", text: "No timeline entries for this session." }))
    return
  }
  const head = el("div", { class: "tl-row tl-head" }, el("div", { class: "tl-time", text: "time" }))
  for (const name of LANES) head.append(el("div", { class: `tl-cell lane-${name}`, text: name }))
  const lanes = el("div", { class: "timeline", "aria-label": `timeline of ${timeline.sessionId}` }, head)
  const start = Date.parse(timeline.entries[0].at)
  let previous = start
  for (const entry of timeline.entries) {
    const at = Date.parse(entry.at)
    if (at - previous >= NOTABLE_GAP_MS) {
      const gap = gapRow(at - previous)
      gap.style.height = `${Math.min(6, 1 + Math.log10((at - previous) / 1000)) * 1.5}em`
      lanes.append(gap)
    }
    previous = at
    lanes.append(entryRow(entry, start))
  }
  root.append(el("h3", { text: `Timeline (${timeline.entries.length} entries)` }), lanes)
}

/** The record's plain fields (the user's details and metadata stay out of sight). */
const renderRecord = (record) => {
  const list = el("dl", { class: "record" })
  for (const [key, value] of Object.entries(record)) {
    if (value === null || typeof value === "object") continue
    list.append(el("dt", { text: key }), el("dd", { text: value }))
  }
  byId("session-record").replaceChildren(el("h3", { text: `Session ${record.sessionId}` }), list)
}

let shownSession

const openSession = async (sessionId) => {
  const [record, timeline] = await Promise.all([
    api("GET", `/admin/sessions/${encodeURIComponent(sessionId)}`),
    api("GET", `/admin/sessions/${encodeURIComponent(sessionId)}/timeline`)
  ])
  shownSession = sessionId
  renderRecord(record)
  renderTimeline(timeline)
  byId("session-section").scrollIntoView()
}

const findSession = async () => {
  const sessionId = byId("find-session").value.trim()
  const subscriber = byId("find-subscriber").value.trim()
  if (sessionId) return openSession(sessionId)
  if (!subscriber) throw new ApiError("Give a session id, or a subscriber (and its tenant).")
  const tenantId = byId("find-tenant").value.trim()
  const timeline = await api(
    "GET",
    `/admin/subscribers/${encodeURIComponent(subscriber)}/timeline${query({ tenantId })}`
  )
  return openSession(timeline.sessionId)
}

// ---- tables ----
const table = (headers, rows) =>
  el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows)
  )

const cells = (...values) => values.map((v) => (v instanceof Node ? el("td", {}, v) : el("td", { text: v ?? "" })))

// ---- open sessions ----
let sessionsCursor

const listSessions = async (cursor) => {
  const answer = await api(
    "GET",
    `/admin/sessions${
      query({
        tenantId: byId("sessions-tenant").value.trim(),
        status: byId("sessions-status").value,
        limit: "20",
        cursor
      })
    }`
  )
  sessionsCursor = answer.next
  byId("sessions-next").hidden = !answer.next
  const rows = answer.sessions.map((s) =>
    el(
      "tr",
      {},
      ...cells(
        button(s.sessionId, attempt(() => openSession(s.sessionId))),
        s.tenantId,
        s.subHandle,
        s.provider,
        s.status,
        s.lastActivityAt
      )
    )
  )
  byId("sessions").replaceChildren(
    rows.length === 0 ?
      el("p", { class: "muted", text: "No sessions." }) :
      table(["session", "tenant", "subscriber", "provider", "state", "last activity"], rows)
  )
}

// ---- dead letters ----
const listDeadLetters = async () => {
  const letters = await api("GET", "/admin/dead-letters")
  const rows = letters.map((letter) =>
    el(
      "tr",
      { "data-id": letter.id },
      ...cells(
        button(letter.event.sessionId, attempt(() => openSession(letter.event.sessionId))),
        letter.event.type,
        letter.event.seq,
        letter.target,
        letter.attempts,
        letter.reason,
        letter.failedAt,
        button("Replay", attempt(() => replay(letter.id)))
      )
    )
  )
  byId("dead-letters").replaceChildren(
    rows.length === 0 ?
      el("p", { class: "muted", text: "No dead letters." }) :
      table(["session", "event", "seq", "target", "attempts", "reason", "failed at", ""], rows)
  )
}

const replay = async (id) => {
  const letter = await api("POST", `/admin/dead-letters/${encodeURIComponent(id)}/replay`)
  const result = byId("replay-result")
  result.textContent =
    `Replayed ${letter.event.type} (seq ${letter.event.seq}) of session ${letter.event.sessionId} to ${letter.target}.`
  result.hidden = false
  await listDeadLetters()
  if (shownSession === letter.event.sessionId) await openSession(shownSession)
}

// ---- cluster ----
const ranges = (numbers) => {
  const sorted = [...numbers].sort((a, b) => a - b)
  const parts = []
  for (let i = 0; i < sorted.length; i++) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`)
    i = j
  }
  return parts.join(", ") || "none"
}

const showCluster = async () => {
  const status = await api("GET", "/admin/cluster")
  const owned = new Map()
  for (const { owner, partition } of status.partitions) owned.set(owner, [...(owned.get(owner) ?? []), partition])
  const members = status.members.map((m) =>
    el(
      "tr",
      {},
      ...cells(
        m.instanceId + (m.instanceId === status.leader ? " (leader)" : ""),
        seconds(m.lastHeartbeatAgeMs),
        m.leaving ? "leaving" : "",
        ranges(owned.get(m.instanceId) ?? []),
        m.report ? ranges(m.report.working) : "",
        m.report ? ranges(m.report.pending) : "",
        m.unreachable ?? m.report?.startedAt
      )
    )
  )
  const unowned = status.partitions.filter((p) => !status.members.some((m) => m.instanceId === p.owner))
  byId("cluster").replaceChildren(
    el(
      "p",
      { text: `${status.mode}, leader ${status.leader}, epoch ${status.epoch}, answered by ${status.instanceId}` }
    ),
    table(["member", "heartbeat age", "", "owns", "working", "pending", "started / unreachable"], members),
    unowned.length > 0 ?
      el("p", { class: "error", text: `Owned by no member: ${ranges(unowned.map((p) => p.partition))}` }) :
      undefined
  )
}

// ---- wiring ----
byId("token-form").addEventListener("submit", (event) => {
  event.preventDefault()
  const value = byId("token").value.trim()
  if (value) sessionStorage.setItem(TOKEN_KEY, value)
  byId("token").value = ""
  showTokenState()
})
byId("forget-token").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY)
  showTokenState()
})
byId("find-form").addEventListener("submit", attempt(findSession))
byId("sessions-form").addEventListener("submit", attempt(() => listSessions(undefined)))
byId("sessions-next").addEventListener("click", attempt(() => listSessions(sessionsCursor)))
byId("dead-letters-load").addEventListener("click", attempt(listDeadLetters))
byId("cluster-load").addEventListener("click", attempt(showCluster))
showTokenState()
