/**
 * Text cut to the lengths providers count (UTF-16 code units), never between the two halves
 * of a surrogate pair: an emoji cut in two leaves an unpaired surrogate, which a provider
 * refuses or shows as garbage.
 */

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff

/** Where a cut at `at` falls between whole characters: one unit earlier where `at` splits a pair. */
const wholeAt = (text: string, at: number) =>
  at > 0 && at < text.length && isHighSurrogate(text.charCodeAt(at - 1)) && isLowSurrogate(text.charCodeAt(at))
    ? at - 1
    : at

/** The start of `text`, at most `max` units. */
export const headOf = (text: string, max: number) => text.length <= max ? text : text.slice(0, wholeAt(text, max))

/** The end of `text`, at most `max` units. */
export const tailOf = (text: string, max: number) => {
  if (text.length <= max) return text
  const start = text.length - max
  return text.slice(isLowSurrogate(text.charCodeAt(start)) && start > 0 ? start + 1 : start)
}

/** `text` in consecutive parts of at most `max` units each (a pair stays whole even where `max` is 1). */
export const partsOf = (text: string, max: number): ReadonlyArray<string> => {
  const parts: Array<string> = []
  for (let at = 0; at < text.length;) {
    const whole = wholeAt(text, Math.min(text.length, at + max))
    const end = whole > at ? whole : at + 2
    parts.push(text.slice(at, end))
    at = end
  }
  return parts
}
