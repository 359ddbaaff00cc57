/** What the agent reads first when a bot hands a user over, in the text every provider can carry. */
import type { SessionRecord, TranscriptEntry } from "../domain/model.js"
import { headOf, tailOf } from "../domain/textCuts.js"

export const transcriptLine = (entry: TranscriptEntry) => `[${entry.at}] ${entry.author}: ${entry.text}`

/** The end of `text` within `maxChars` (the latest lines matter most), marked with "…" where cut. */
export const keepEnd = (
  text: string,
  maxChars: number
) => (text.length <= maxChars ? text : `…${tailOf(text, maxChars - 1)}`)

/**
 * Who asks, and the conversation with the bot so far: its latest `maxEntries` entries, fewer
 * where the whole must fit in `maxChars` (a provider's message limit).
 */
export const openingText = (
  session: SessionRecord,
  transcript: ReadonlyArray<TranscriptEntry>,
  limits: { readonly maxEntries: number; readonly maxChars?: number }
) => {
  const who = session.user?.name ?? session.subHandle
  const header = `${who} asked for an agent${session.channel !== undefined ? ` on ${session.channel}` : ""}.`
  if (transcript.length === 0) return header
  const compose = (kept: ReadonlyArray<TranscriptEntry>) => {
    const omitted = transcript.length - kept.length
    return [
      header,
      "",
      "Conversation with the bot:",
      ...(omitted > 0 ? [`(${omitted} earlier messages omitted)`] : []),
      ...kept.map(transcriptLine)
    ].join("\n")
  }
  let kept = transcript.slice(-limits.maxEntries)
  let text = compose(kept)
  while (limits.maxChars !== undefined && text.length > limits.maxChars && kept.length > 1) {
    kept = kept.slice(1)
    text = compose(kept)
  }
  return limits.maxChars === undefined ? text : headOf(text, limits.maxChars)
}
