/**
 * The provider egress policy (AppConfig `providerEgress`): https (wss) unless insecure is
 * allowed, no credentials in the URL, and only public addresses unless private ones are
 * allowed or the host is on the allow list. "Public" is every address outside the ranges
 * below; every address a name resolves to must be public.
 */
import { Effect, Layer } from "effect"
import { type LookupAddress, type LookupOptions, promises as dns } from "node:dns"
import { BlockList, isIP, type LookupFunction } from "node:net"
import { buildConnector } from "undici"
import { AppConfig, type ProviderEgress } from "../services/AppConfig.js"
import {
  EgressRefused,
  ProviderEgressGuard,
  type ProviderEgressGuardService,
  type ProviderUrlKind
} from "../services/ProviderEgressGuard.js"

/** IPv4 ranges that are not the public internet (IANA special-purpose registry). */
const nonPublicV4: ReadonlyArray<readonly [address: string, prefix: number]> = [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local: the cloud metadata service
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4] // reserved, broadcast
]

/** IPv6 ranges that are not the public internet. */
const nonPublicV6: ReadonlyArray<readonly [address: string, prefix: number]> = [
  ["::", 96], // unspecified, loopback, IPv4-compatible
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard-only
  ["2001::", 23], // IETF protocol assignments: Teredo (an IPv4 address inside), benchmarking, ORCHID
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4 (an IPv4 address inside)
  ["3fff::", 20], // documentation
  ["5f00::", 16], // segment routing
  ["fc00::", 7], // unique-local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local
  ["ff00::", 8] // multicast
]

const nonPublic = new BlockList()
for (const [address, prefix] of nonPublicV4) {
  // BlockList matches an IPv4 rule against the IPv4-mapped IPv6 form (::ffff:a.b.c.d) too.
  nonPublic.addSubnet(address, prefix, "ipv4")
  // NAT64 (64:ff9b::a.b.c.d) reaches the IPv4 address inside it.
  nonPublic.addSubnet(`64:ff9b::${address}`, 96 + prefix, "ipv6")
}
for (const [address, prefix] of nonPublicV6) nonPublic.addSubnet(address, prefix, "ipv6")

/** Whether `address` (an IP literal) is on the public internet; anything that is not an address is not. */
export const isPublicAddress = (address: string): boolean => {
  const family = isIP(address)
  return family !== 0 && !nonPublic.check(address, family === 4 ? "ipv4" : "ipv6")
}

/** Whether `hostname` is on the allow list: an exact name, or `*.domain` for any subdomain of domain. */
export const isListedHost = (hosts: ReadonlyArray<string>, hostname: string): boolean =>
  hosts.some((host) => (host.startsWith("*.") ? hostname.endsWith(host.slice(1)) : hostname === host))

/** Every address `hostname` resolves to (DNS, hosts file), as dns.lookup with `all` answers them. */
export type ResolveHost = (hostname: string, options: LookupOptions) => Promise<ReadonlyArray<LookupAddress>>

const systemResolve: ResolveHost = (hostname, options) => dns.lookup(hostname, { ...options, all: true })

const schemes: Record<ProviderUrlKind, { readonly secure: string; readonly insecure: string }> = {
  api: { secure: "https", insecure: "http" },
  socket: { secure: "wss", insecure: "ws" }
}

const literalRefused = () => new EgressRefused({ message: "is a private address" })
const nameRefused = () => new EgressRefused({ message: "resolves to a private address" })

/** The policy over `egress`; `resolve` answers what a name resolves to (the system's resolver, or a test's). */
export const makeProviderEgressGuard = (
  egress: ProviderEgress,
  resolve: ResolveHost = systemResolve
): ProviderEgressGuardService => {
  /** Exempt from the address check. */
  const exempt = (hostname: string) => egress.allowPrivate || isListedHost(egress.hosts, hostname)

  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname, options).then(
      (addresses) => {
        const first = addresses[0]
        if (first === undefined) {
          return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "")
        }
        if (!exempt(hostname) && !addresses.every((a) => isPublicAddress(a.address))) return callback(nameRefused(), "")
        return options.all === true ? callback(null, [...addresses]) : callback(null, first.address, first.family)
      },
      (error: NodeJS.ErrnoException) => callback(error, "")
    )
  }

  const checkAddresses = (hostname: string): Effect.Effect<void, EgressRefused> => {
    if (exempt(hostname)) return Effect.void
    if (isIP(hostname) !== 0) return isPublicAddress(hostname) ? Effect.void : Effect.fail(literalRefused())
    return Effect.tryPromise(() => resolve(hostname, {})).pipe(
      // A name that does not resolve now has no address to refuse; the connect-time guard checks what it resolves to then.
      Effect.orElseSucceed((): ReadonlyArray<LookupAddress> => []),
      Effect.flatMap((
        addresses
      ) => (addresses.every((a) => isPublicAddress(a.address)) ? Effect.void : Effect.fail(nameRefused())))
    )
  }

  return {
    checkUrl: (url, kind) =>
      Effect.suspend(() => {
        if (!URL.canParse(url)) return Effect.fail(new EgressRefused({ message: "is not a URL" }))
        const parsed = new URL(url)
        const { insecure, secure } = schemes[kind]
        const scheme = parsed.protocol.slice(0, -1)
        if (scheme !== secure && !(egress.allowInsecure && scheme === insecure)) {
          return Effect.fail(
            new EgressRefused({
              message: egress.allowInsecure ? `must use ${secure} or ${insecure}` : `must use ${secure}`
            })
          )
        }
        if (parsed.username !== "" || parsed.password !== "") {
          return Effect.fail(new EgressRefused({ message: "must not carry credentials" }))
        }
        // An IPv6 literal's hostname keeps its brackets.
        return checkAddresses(parsed.hostname.replace(/^\[(.*)\]$/, "$1"))
      }),
    connector: ({ timeout }) => {
      const connect = buildConnector({ timeout, lookup })
      // undici gives the hostname without brackets; an IP literal is connected to without a lookup, so it is checked here.
      return (options, callback) =>
        isIP(options.hostname) !== 0 && !exempt(options.hostname) && !isPublicAddress(options.hostname)
          ? callback(literalRefused(), null)
          : connect(options, callback)
    },
    lookup
  }
}

export const ProviderEgressGuardLive = Layer.effect(
  ProviderEgressGuard,
  Effect.map(AppConfig, (config) => makeProviderEgressGuard(config.providerEgress))
)
