/** The gateway's use cases, each its own service, over the session changes they share (which stay inside). */
import { Layer } from "effect"
import { IngestLive } from "./Ingest.js"
import { LivechatRequestsLive } from "./LivechatRequests.js"
import { MessagingLive } from "./Messaging.js"
import { QueriesLive } from "./Queries.js"
import { SessionChangesLive } from "./SessionChanges.js"
import { TimeoutsLive } from "./Timeouts.js"

export const UseCasesLive = Layer.mergeAll(
  LivechatRequestsLive,
  // A message the provider answers with the conversation's end ends the session through Ingest.
  MessagingLive.pipe(Layer.provide(IngestLive)),
  QueriesLive,
  IngestLive,
  TimeoutsLive
).pipe(Layer.provide(SessionChangesLive))
