/**
 * What every simulator's scriptable agent shares: agent attachments in the gateway's own shape
 * (docs/CONTRACTS.md#upstream-api `Attachment`), whatever the provider's, and `GET /sim`, the
 * machine-readable list of the agent's actions with an example body each.
 */
import { HttpRouter } from "@effect/platform"
import { Effect, Schema } from "effect"
import { json } from "./answers.js"
import { exact, HttpUrl, NonEmptyString } from "./schemas.js"

/** An agent's attachment as a sim route takes it: `{ url, contentType, name? }`, each simulator turning it into its provider's shape. */
export const AgentAttachment = Schema.Struct({ url: HttpUrl, contentType: NonEmptyString, name: exact(Schema.String) })
export type AgentAttachment = typeof AgentAttachment.Type

/** The last segment of a URL's path, percent-decoded when it decodes ("" when there is none). */
export const fileNameOf = (url: string): string => {
  const segment = new URL(url).pathname.split("/").at(-1) ?? ""
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** One action of a simulator's agent (or of its scripting), as `GET /sim` lists it. */
export interface SimAction {
  /** e.g. `join` */
  readonly action: string
  readonly method: "GET" | "POST"
  /** The route, its parameters as `{name}`. */
  readonly path: string
  /** What it does, in the provider's terms. */
  readonly does: string
  /** An example body (every field optional unless `does` says otherwise); none = no body. */
  readonly example?: Readonly<Record<string, unknown>>
}

/** The unreachable switch every provider simulator has (./unreachable.ts). */
const unreachableAction: SimAction = {
  action: "unreachable",
  method: "POST",
  path: "/sim/unreachable",
  does:
    "while `unreachable` is true, every call to the provider's API answers 503 with an empty body (a provider that is down); false brings it back",
  example: { unreachable: true }
}

/** `GET /sim`: `{ simulator, actions }`, the unreachable switch every provider simulator has among them. */
export const simIndexRoute = (simulator: string, actions: ReadonlyArray<SimAction>) =>
  HttpRouter.get("/sim", Effect.sync(() => json(200, { simulator, actions: [...actions, unreachableAction] })))

/** The example attachment every simulator's listing shows. */
export const exampleAttachment: AgentAttachment = {
  url: "https://files.example.com/menu.pdf",
  contentType: "application/pdf",
  name: "menu.pdf"
}
