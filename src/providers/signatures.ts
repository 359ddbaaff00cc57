/** Webhook signatures shared by the providers. */
import { createHash, createHmac, timingSafeEqual } from "node:crypto"

/** `sha256=` and an HMAC-SHA256 (32 bytes) in exactly its hex (64 digits) or base64 (43 characters and one `=`) form. */
const signatureForms = {
  hex: /^sha256=[0-9a-fA-F]{64}$/,
  base64: /^sha256=[A-Za-z0-9+/]{43}=$/
}

/** Whether `header` has exactly the form of a `sha256=<HMAC-SHA256>` signature in `encoding`, nothing before or after it. */
export const wellFormedSignature = (header: string, encoding: "hex" | "base64"): boolean =>
  signatureForms[encoding].test(header)

/**
 * Whether `header` is `sha256=<HMAC-SHA256 of the raw body with secret>`, in the provider's
 * encoding (hex for hbf-lcm, base64 for Genesys), exactly (Buffer.from would skip trailing
 * garbage), compared in constant time.
 */
export const sha256SignatureMatches = (
  secret: string,
  body: Uint8Array,
  header: string | undefined,
  encoding: "hex" | "base64"
): boolean => {
  if (header === undefined || !wellFormedSignature(header, encoding)) return false
  const given = Buffer.from(header.slice("sha256=".length), encoding)
  const expected = createHmac("sha256", secret).update(body).digest()
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The longest shared secret a header may carry. */
const MAX_SHARED_SECRET = 512

/** Whether `header` can be a shared secret at all: not empty, not longer than any secret we keep. */
export const wellFormedSharedSecret = (header: string): boolean =>
  header.length > 0 && header.length <= MAX_SHARED_SECRET

/** SHA-256 in hex: a digest that names a secret (a Sunshine webhook's source, a credential's key) without revealing it. */
export const sha256Hex = (value: string): string => createHash("sha256").update(value).digest("hex")

/**
 * Whether `header` is the shared secret itself (Sunshine's X-API-Key), compared in constant
 * time: both sides are hashed first, so neither the content nor the length leaks by timing.
 */
export const sharedSecretMatches = (secret: string, header: string | undefined): boolean => {
  if (header === undefined) return false
  const digest = (value: string) => createHash("sha256").update(value).digest()
  return timingSafeEqual(digest(header), digest(secret))
}
