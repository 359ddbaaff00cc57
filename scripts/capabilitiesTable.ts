/**
 * README.md's table of what each provider carries, rendered from the capabilities the providers
 * declare beside their code (`providerCapabilities`): `npm run docs:capabilities` writes it
 * between its marker comments, and test/unit/capabilities.test.ts fails while README's differs.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Capabilities, ProviderAlias } from "../src/domain/model.js"
import { providerCapabilities } from "../src/providers/ProviderRegistryLive.js"

const yesNo = (value: boolean) => (value ? "yes" : "no")

const attachmentsAs = { native: "files", "as-links": "names and links in the text", none: "no" } as const

/** Each row: what it says (the field of `GET /tenants/:tenantId/capabilities` first), and its value for a provider. */
const rows: ReadonlyArray<readonly [string, (capabilities: Capabilities) => string]> = [
  ["`userTyping`: the agent sees the user typing (`POST /typing`)", (c) => yesNo(c.userTyping)],
  ["`agentTyping`: hbf-bot gets `agent.typing`", (c) => yesNo(c.agentTyping)],
  ["`readReceipts.user`: the agent sees what the user has read (`POST /read`)", (c) => yesNo(c.readReceipts.user)],
  ["`readReceipts.agent`: hbf-bot gets `agent.read`", (c) => yesNo(c.readReceipts.agent)],
  ["`userAttachments`: the user's attachments reach the agent as", (c) => attachmentsAs[c.userAttachments]],
  ["`agentAttachments`: the agent's attachments reach hbf-bot", (c) => attachmentsAs[c.agentAttachments]],
  ["`maxTextLength`: the longest text the agent gets as one message", (c) => c.maxTextLength.toLocaleString("en-US")],
  ["`splitsLongText`: a longer text reaches the agent as several messages", (c) => yesNo(c.splitsLongText)],
  ["`queuePosition`: a waiting request's position comes from", (c) => c.queuePosition],
  ["`transfer`: an agent can hand the chat back to a queue", (c) => yesNo(c.transfer)]
]

const columns: ReadonlyArray<ProviderAlias> = ["helvia-livechat", "genesys-livechat", "cisco-livechat", "zendesk"]

export const capabilitiesTable = (): string =>
  [
    `| | ${columns.join(" | ")} |`,
    `|---|${columns.map(() => "---").join("|")}|`,
    ...rows.map(([says, value]) =>
      `| ${says} | ${columns.map((alias) => value(providerCapabilities[alias])).join(" | ")} |`
    )
  ].join("\n")

const begin = "<!-- capabilities: npm run docs:capabilities -->"
const end = "<!-- /capabilities -->"

/** `readme` with the table between its markers rendered again. */
export const withCapabilitiesTable = (readme: string): string => {
  const from = readme.indexOf(begin)
  const to = readme.indexOf(end)
  if (from < 0 || to < from) throw new Error(`README.md has no "${begin}" ... "${end}" block`)
  return `${readme.slice(0, from + begin.length)}\n${capabilitiesTable()}\n${readme.slice(to)}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync("README.md", withCapabilitiesTable(readFileSync("README.md", "utf8")))
}
