/** Signatures and secrets compared as the simulated services compare them. */
import { createHmac, timingSafeEqual } from "node:crypto"

/** HMAC-SHA256 of the exact bytes: hex (hbf-*), base64 (Genesys). */
export const hmacSha256 = (secret: string, body: Uint8Array | string, encoding: "hex" | "base64" = "hex"): string =>
  createHmac("sha256", secret).update(body).digest(encoding)

/** Compares a presented secret in constant time. */
export const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
