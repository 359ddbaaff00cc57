/** Cuts that providers' length limits force on text never split a character in two. */
import { describe, expect, it } from "@effect/vitest"
import { headOf, partsOf, tailOf } from "../../src/domain/textCuts.js"
import { keepEnd, openingText } from "../../src/providers/handover.js"

const emoji = "😀" // two UTF-16 units
/** No unpaired surrogate. */
const wellFormed = (text: string) =>
  !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)

describe("text cuts", () => {
  it("headOf and tailOf keep whole characters: one unit less where the limit falls inside an emoji", () => {
    expect(headOf(`ab${emoji}c`, 3)).toBe("ab")
    expect(headOf(`ab${emoji}c`, 4)).toBe(`ab${emoji}`)
    expect(headOf("abc", 3)).toBe("abc")
    expect(tailOf(`a${emoji}bc`, 3)).toBe("bc")
    expect(tailOf(`a${emoji}bc`, 4)).toBe(`${emoji}bc`)
  })

  it("partsOf covers the whole text, each part within the limit and well formed", () => {
    const text = `${"a".repeat(9)}${emoji}${"b".repeat(9)}${emoji}${emoji}`
    const parts = partsOf(text, 10)
    expect(parts.join("")).toBe(text)
    expect(parts.every((p) => p.length <= 10 && wellFormed(p))).toBe(true)
    expect(parts[0]).toBe("a".repeat(9))
    expect(partsOf("", 10)).toEqual([])
    // A limit below a pair's size still ends, the pair whole.
    expect(partsOf(`a${emoji}b`, 1)).toEqual(["a", emoji, "b"])
  })

  it("the handover text and the transcript's end, cut to a provider's limit, stay well formed", () => {
    expect(wellFormed(keepEnd(`${emoji.repeat(5)}`, 4))).toBe(true)
    const session = { subHandle: "sub-1", user: { name: "Nikos" } } as Parameters<typeof openingText>[0]
    const transcript = [{ author: "user" as const, text: emoji.repeat(100), at: "2026-12-07T10:00:00Z" }]
    for (let max = 40; max < 80; max++) {
      const text = openingText(session, transcript, { maxEntries: 5, maxChars: max })
      expect(text.length).toBeLessThanOrEqual(max)
      expect(wellFormed(text)).toBe(true)
    }
  })
})
