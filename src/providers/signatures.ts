/** Webhook signatures shared by the providers. */
import { createHash, createHmac, timingSafeEqual } from "node:crypto"

/**
 * Whether `header` is `sha256=<HMAC-SHA256 of the raw body with secret>`, in the provider's
 * encoding (hex for hbf-lcm, base64 for Genesys), compared in constant time.
 */
export const sha256SignatureMatches = (
  secret: string,
  body: Uint8Array,
  header: string | undefined,
  encoding: "hex" | "base64"
): boolean => {
  if (header === undefined || !header.startsWith("sha256=")) return false
  const given = Buffer.from(header.slice("sha256=".length), encoding)
  const expected = createHmac("sha256", secret).update(body).digest()
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * Whether `header` is the shared secret itself (Sunshine's X-API-Key), compared in constant
 * time: both sides are hashed first, so neither the content nor the length leaks by timing.
 */
export const sharedSecretMatches = (secret: string, header: string | undefined): boolean => {
  if (header === undefined) return false
  const digest = (value: string) => createHash("sha256").update(value).digest()
  return timingSafeEqual(digest(header), digest(secret))
}
