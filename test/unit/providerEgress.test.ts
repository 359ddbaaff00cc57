/**
 * The provider egress policy: which URLs and addresses a provider call may reach, checked
 * when a tenant is loaded and again as each connection is made.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted } from "effect"
import { isIP } from "node:net"
import WebSocket from "ws"
import { demoCisco, demoZendesk } from "../../sandbox/demoTenants.js"
import { makeSandbox } from "../../sandbox/environment.js"
import { OutboundHttpLive } from "../../src/infra/outbound.js"
import {
  isListedHost,
  isPublicAddress,
  makeProviderEgressGuard,
  type ResolveHost
} from "../../src/infra/ProviderEgressGuardLive.js"
import { type CcpConfig, CiscoApi, CiscoApiLive } from "../../src/providers/cisco/client.js"
import { ProviderCallHealthLive } from "../../src/providers/providerCallHealth.js"
import { ZendeskApi, ZendeskApiLive } from "../../src/providers/zendesk/client.js"
import { AppConfig, defaultAppConfig, type ProviderEgress } from "../../src/services/AppConfig.js"
import { ProviderEgressGuard, type ProviderUrlKind } from "../../src/services/ProviderEgressGuard.js"
import { connectionTrap, recordingLogs } from "../egressProbes.js"

/** The demo tenant's CCP config on `baseUrl`. */
const ccpOn = (baseUrl: string, apiKey?: string) =>
  ({
    provider: "cisco-livechat",
    tenantId: "t1",
    cisco: { ...demoCisco, baseUrl, ...(apiKey !== undefined ? { apiKey: Redacted.make(apiKey) } : {}) }
  }) as CcpConfig

/** Production's confinement: https to public addresses only. */
const confinedEgress = defaultAppConfig.providerEgress

/** A resolver answering `answers` (each call may answer differently), and ENOTFOUND for other names. */
const resolverOf =
  (answers: Record<string, ReadonlyArray<string> | (() => ReadonlyArray<string>)>): ResolveHost => async (hostname) => {
    const answer = answers[hostname]
    if (answer === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" })
    return (typeof answer === "function" ? answer() : answer).map((address) => ({ address, family: isIP(address) }))
  }

/** Why the policy refuses `url`, or "allowed". */
const verdict = (
  url: string,
  egress: ProviderEgress = confinedEgress,
  resolve?: ResolveHost,
  kind: ProviderUrlKind = "api"
) =>
  makeProviderEgressGuard(egress, resolve).checkUrl(url, kind).pipe(
    Effect.either,
    Effect.map(Either.match({ onLeft: (refused) => refused.message, onRight: () => "allowed" }))
  )

describe("which addresses are public", () => {
  it("refuses loopback, private, CGNAT, link-local, unspecified, multicast and reserved IPv4", () => {
    for (
      const address of [
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "100.64.0.1",
        "100.127.255.254",
        "169.254.169.254",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
        "198.18.0.1"
      ]
    ) {
      expect(isPublicAddress(address), address).toBe(false)
    }
  })

  it("refuses loopback, unspecified, link-local, unique-local, multicast and reserved IPv6, and IPv4 ones mapped into IPv6", () => {
    for (
      const address of [
        "::1",
        "::",
        "fe80::1",
        "febf::1",
        "fc00::1",
        "fd12:3456:789a::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1"
      ]
    ) {
      expect(isPublicAddress(address), address).toBe(false)
    }
  })

  it("accepts public addresses, including the edges of the refused ranges and public IPv4 inside IPv6", () => {
    for (
      const address of [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "169.253.255.255",
        "2606:4700:4700::1111",
        "2a00:1450:4001:82b::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808"
      ]
    ) {
      expect(isPublicAddress(address), address).toBe(true)
    }
    expect(isPublicAddress("example.com")).toBe(false)
  })
})

describe("the allow list", () => {
  it("matches a *. wildcard on subdomains only, and other entries exactly", () => {
    const hosts = ["*.zendesk.com", "ccp.acme.internal"]
    expect(isListedHost(hosts, "acme.zendesk.com")).toBe(true)
    expect(isListedHost(hosts, "eu.acme.zendesk.com")).toBe(true)
    expect(isListedHost(hosts, "zendesk.com")).toBe(false)
    expect(isListedHost(hosts, "zendesk.com.evil.net")).toBe(false)
    expect(isListedHost(hosts, "evilzendesk.com")).toBe(false)
    expect(isListedHost(hosts, "ccp.acme.internal")).toBe(true)
    expect(isListedHost(hosts, "x.ccp.acme.internal")).toBe(false)
  })
})

describe("a provider URL", () => {
  it.effect("must be https (wss for the socket) unless insecure is allowed, and never anything else", () =>
    Effect.gen(function*() {
      const insecure = { ...confinedEgress, allowInsecure: true }
      expect(yield* verdict("https://93.184.216.34/sc")).toBe("allowed")
      expect(yield* verdict("http://93.184.216.34/sc")).toBe("must use https")
      expect(yield* verdict("http://93.184.216.34/sc", insecure)).toBe("allowed")
      expect(yield* verdict("ftp://93.184.216.34/", insecure)).toBe("must use https or http")
      expect(yield* verdict("wss://93.184.216.34/channels/1", confinedEgress, undefined, "socket")).toBe("allowed")
      expect(yield* verdict("ws://93.184.216.34/channels/1", confinedEgress, undefined, "socket")).toBe("must use wss")
      expect(yield* verdict("https://93.184.216.34/channels/1", confinedEgress, undefined, "socket")).toBe(
        "must use wss"
      )
      expect(yield* verdict("ws://93.184.216.34/channels/1", insecure, undefined, "socket")).toBe("allowed")
      expect(yield* verdict("not a url")).toBe("is not a URL")
    }))

  it.effect("must not carry credentials", () =>
    Effect.gen(function*() {
      expect(yield* verdict("https://admin:hunter2@93.184.216.34/")).toBe("must not carry credentials")
      expect(yield* verdict("https://token@93.184.216.34/")).toBe("must not carry credentials")
    }))

  it.effect("an IP literal of a refused range is refused, in any of its spellings", () =>
    Effect.gen(function*() {
      for (
        const url of [
          "https://127.0.0.1/",
          "https://2130706433/",
          "https://0x7f.1/",
          "https://[::1]:8443/",
          "https://[::ffff:127.0.0.1]/",
          "https://169.254.169.254/latest/meta-data",
          "https://[fd00::1]/",
          "https://0.0.0.0:3939/"
        ]
      ) {
        expect(yield* verdict(url), url).toBe("is a private address")
      }
    }))

  it.effect("localhost, resolving to loopback, is refused", () =>
    Effect.gen(function*() {
      expect(yield* verdict("https://localhost:3939/")).toBe("resolves to a private address")
    }))

  it.effect("a name is refused when any address it resolves to is private, and allowed when all are public", () =>
    Effect.gen(function*() {
      const resolve = resolverOf({
        "split.example.com": ["93.184.216.34", "10.0.0.7"],
        "v6.example.com": ["2606:4700:4700::1111", "fe80::1"],
        "public.example.com": ["93.184.216.34", "2606:4700:4700::1111"]
      })
      expect(yield* verdict("https://split.example.com/", confinedEgress, resolve)).toBe(
        "resolves to a private address"
      )
      expect(yield* verdict("https://v6.example.com/", confinedEgress, resolve)).toBe("resolves to a private address")
      expect(yield* verdict("https://public.example.com/", confinedEgress, resolve)).toBe("allowed")
      // No address now is nothing to refuse: the connection, if any, is checked when it is made.
      expect(yield* verdict("https://nxdomain.example.com/", confinedEgress, resolve)).toBe("allowed")
    }))

  it.effect("a host on the allow list, or LCG_PROVIDER_ALLOW_PRIVATE, exempts it from the address check only", () =>
    Effect.gen(function*() {
      const resolve = resolverOf({ "ccp.corp.example": ["10.1.2.3"], "corp.example": ["10.1.2.4"] })
      const listed = { ...confinedEgress, hosts: ["*.corp.example", "127.0.0.1"] }
      expect(yield* verdict("https://ccp.corp.example:8443/", listed, resolve)).toBe("allowed")
      expect(yield* verdict("https://127.0.0.1:8443/", listed, resolve)).toBe("allowed")
      expect(yield* verdict("https://corp.example/", listed, resolve)).toBe("resolves to a private address")
      expect(yield* verdict("http://ccp.corp.example/", listed, resolve)).toBe("must use https")
      expect(yield* verdict("https://ccp.corp.example/", { ...confinedEgress, allowPrivate: true }, resolve)).toBe(
        "allowed"
      )
      expect(yield* verdict("https://[::1]/", { ...confinedEgress, allowPrivate: true })).toBe("allowed")
    }))
})

describe("connections to providers", () => {
  /** AppConfig (the sandbox's, its egress confined) and the policy over `resolve`. */
  const confinedWith = (resolve: ResolveHost, egress: ProviderEgress = confinedEgress) =>
    Effect.map(
      makeSandbox({ configure: (config) => ({ ...config, providerEgress: egress }) }),
      ({ config }) =>
        Layer.mergeAll(
          Layer.succeed(AppConfig, config),
          Layer.succeed(ProviderEgressGuard, makeProviderEgressGuard(egress, resolve)),
          ProviderCallHealthLive.pipe(Layer.provide(Layer.succeed(AppConfig, config)))
        )
    )

  it.scopedLive("a name that resolved to a public address when checked but to a private one when connected to is refused at connect time", () =>
    recordingLogs((logs) =>
      Effect.gen(function*() {
        const server = yield* connectionTrap
        let lookups = 0
        // DNS rebinding: public for the check, loopback for the connection.
        const resolve = resolverOf({ "ccp.example.com": () => (lookups++ === 0 ? ["93.184.216.34"] : ["127.0.0.1"]) })
        const context = yield* confinedWith(resolve)
        const baseUrl = `https://ccp.example.com:${server.port}`
        yield* Effect.gen(function*() {
          expect(yield* Effect.either((yield* ProviderEgressGuard).checkUrl(baseUrl, "api"))).toEqual(
            Either.right(undefined)
          )
          const api = yield* CiscoApi
          const config = ccpOn(baseUrl, "ccp-api-key")
          const error = yield* Effect.flip(api.create(config, { author: "Alice", title: "help", extensionFields: [] }))
          expect(error.message).toBe("CCP POST /ccp/rest/chat is unreachable")
        }).pipe(Effect.provide(CiscoApiLive.pipe(Layer.provideMerge(context))))
        expect(server.connections()).toBe(0)
        const line = logs.find((l) => l.includes("a provider call got no answer"))
        expect(line).toContain("resolves to a private address")
        expect(line).toContain("cisco-livechat")
      })
    ))

  it.scopedLive("an IP-literal URL of a private address is refused at connect time (it is never looked up)", () =>
    Effect.gen(function*() {
      const server = yield* connectionTrap
      const context = yield* confinedWith(resolverOf({}), { ...confinedEgress, allowInsecure: true })
      yield* Effect.gen(function*() {
        const sunshine = yield* ZendeskApi
        const error = yield* Effect.flip(sunshine.conversation(
          {
            tenantId: "t1",
            config: {
              ...demoZendesk,
              keySecret: Redacted.make(demoZendesk.keySecret),
              webhookSecret: Redacted.make(demoZendesk.webhookSecret),
              apiBaseUrl: `http://127.0.0.1:${server.port}`
            }
          },
          "c1"
        ))
        expect(error.message).toBe("Sunshine GET /conversations/{id} is unreachable")
        const ccp = yield* CiscoApi
        const refused = yield* Effect.flip(
          ccp.poll(ccpOn(`http://[::ffff:127.0.0.1]:${server.port}`), "cookie", 0)
        )
        expect(refused.message).toBe("CCP GET /ccp/rest/chat is unreachable")
      }).pipe(
        Effect.provide(
          Layer.merge(ZendeskApiLive.pipe(Layer.provide(OutboundHttpLive)), CiscoApiLive).pipe(
            Layer.provideMerge(context)
          )
        )
      )
      expect(server.connections()).toBe(0)
    }))

  it.scopedLive("a host on the allow list is connected to, private as it is", () =>
    Effect.gen(function*() {
      const server = yield* connectionTrap
      const egress = { ...confinedEgress, hosts: ["ccp.corp.example"] }
      const context = yield* confinedWith(resolverOf({ "ccp.corp.example": ["127.0.0.1"] }), egress)
      yield* Effect.gen(function*() {
        const api = yield* CiscoApi
        yield* Effect.either(api.poll(ccpOn(`http://ccp.corp.example:${server.port}`), "cookie", 0))
      }).pipe(Effect.provide(CiscoApiLive.pipe(Layer.provideMerge(context))))
      expect(server.connections()).toBe(1)
    }))

  it.scopedLive("the notifications socket's lookup refuses a name resolving to a private address", () =>
    Effect.gen(function*() {
      const server = yield* connectionTrap
      const guard = makeProviderEgressGuard(
        { ...confinedEgress, allowInsecure: true },
        resolverOf({ "streaming.example.com": ["127.0.0.1"] })
      )
      const error = yield* Effect.async<Error>((resume) => {
        const ws = new WebSocket(`ws://streaming.example.com:${server.port}/channels/1`, { lookup: guard.lookup })
        ws.on("error", (e) => resume(Effect.succeed(e)))
      })
      expect(error.message).toBe("resolves to a private address")
      expect(server.connections()).toBe(0)
    }))
})
