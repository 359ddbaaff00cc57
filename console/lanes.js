// The timeline's lanes, shared by the console (console.js imports it in the browser) and
// `npm run timeline` (scripts/timeline.ts): one map, so the two never place an entry differently.

/** The lanes, left to right: what the provider said and was told, the session itself, what hbf-bot was sent. */
export const LANES = ["provider", "gateway", "hbf-bot"]

/** Which lane an entry's kind belongs to. */
export const LANE_OF_KIND = {
  "provider.call": "provider",
  "event.received": "provider",
  "event.dropped": "provider",
  created: "gateway",
  state: "gateway",
  ended: "gateway",
  delivery: "hbf-bot",
  "dead-letter": "hbf-bot",
  replayed: "hbf-bot"
}

/** A gap between two entries shorter than this is not shown: entries of one exchange follow each other within it. */
export const NOTABLE_GAP_MS = 1000
