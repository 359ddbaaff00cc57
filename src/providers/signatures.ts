/** Webhook signatures shared by the providers. */
import { createHmac, timingSafeEqual } from "node:crypto"

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
