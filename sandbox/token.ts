/** Tokens for the sandbox and the tests: HS256 JWTs like hbf-bot's. */
import { SignJWT } from "jose"

export interface TokenOptions {
  readonly secret: string
  readonly subject?: string
  readonly audience?: string
  readonly scope?: string
  /** Confines the token to these tenants (a platform token has none). */
  readonly tenants?: string | ReadonlyArray<string>
  readonly issuer?: string
  /** Seconds from now; negative = already expired. */
  readonly expiresInSeconds?: number
  readonly withoutExpiry?: boolean
}

export const signToken = (options: TokenOptions): Promise<string> => {
  const now = Math.floor(Date.now() / 1000)
  let jwt = new SignJWT({
    ...(options.scope !== undefined ? { scope: options.scope } : {}),
    ...(options.tenants !== undefined ? { tenants: options.tenants } : {})
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.subject ?? "hbf-bot")
    .setIssuedAt(now)
  if (!options.withoutExpiry) jwt = jwt.setExpirationTime(now + (options.expiresInSeconds ?? 24 * 60 * 60))
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience)
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer)
  return jwt.sign(new TextEncoder().encode(options.secret))
}
