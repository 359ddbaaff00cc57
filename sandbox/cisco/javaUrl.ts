/** Java's URLEncoder.encode(s, "UTF-8"), how CCP encodes MessageEvent bodies, and its inverse. */

const isUnreserved = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2e || c === 0x2d ||
  c === 0x2a || c === 0x5f

const HEX = "0123456789ABCDEF"
const utf8Encoder = new TextEncoder()

/**
 * Exactly `java.net.URLEncoder.encode(s, "UTF-8")`: `a-zA-Z0-9.-*_` unchanged, space `+`,
 * every other character as its UTF-8 bytes `%XX` (upper-case hex); a lone surrogate becomes
 * `%3F` (Java's String.getBytes replaces it with `?`).
 */
export const javaUrlEncode = (s: string): string => {
  let out = ""
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (isUnreserved(c)) out += s[i]
    else if (c === 0x20) out += "+"
    else {
      let char: string
      if (
        c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff
      ) {
        char = s.slice(i, i + 2)
        i++
      } else if (c >= 0xd800 && c <= 0xdfff) char = "?"
      else char = s[i]!
      for (const byte of utf8Encoder.encode(char)) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`
    }
  }
  return out
}

/** The inverse, as a client must decode: `+` -> space first, then percent-decoding. */
export const javaUrlDecode = (s: string): string => decodeURIComponent(s.replaceAll("+", " "))
