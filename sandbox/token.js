/** Tokens for the sandbox and the tests: HS256 JWTs like hbf-bot's. */
import { SignJWT } from "jose";
export const signToken = (options) => {
    const now = Math.floor(Date.now() / 1000);
    let jwt = new SignJWT({
        ...(options.scope !== undefined ? { scope: options.scope } : {}),
        ...(options.tenants !== undefined ? { tenants: options.tenants } : {})
    })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(options.subject ?? "hbf-bot")
        .setIssuedAt(now);
    if (!options.withoutExpiry)
        jwt = jwt.setExpirationTime(now + (options.expiresInSeconds ?? 24 * 60 * 60));
    if (options.audience !== undefined)
        jwt = jwt.setAudience(options.audience);
    if (options.issuer !== undefined)
        jwt = jwt.setIssuer(options.issuer);
    return jwt.sign(new TextEncoder().encode(options.secret));
};
//# sourceMappingURL=token.js.map