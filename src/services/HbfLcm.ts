import type { Effect } from "effect"
import { Context } from "effect"
import type { Attachment, Metadata, TranscriptEntry } from "../domain/model.js"

/** A failed call to hbf-lcm: `status` is the HTTP status when it answered. */
export interface HbfLcmFailure {
  readonly _tag: "HbfLcmFailure"
  readonly message: string
  readonly status?: number
}

export interface LcmLivechatRequest {
  readonly platformSessionId: string
  readonly platformUserId: string
  readonly platformUserName: string
  readonly platformUserEmail?: string
  readonly platformUserPhone?: string
  readonly platformUserLanguage?: string
  readonly platformOrigin: string
  readonly organizationId: string
  readonly tenantId: string
  readonly tenantName: string
  readonly tenantImageUrl: string
  readonly requestedDate: string
  readonly callbackUrl: string
  readonly transcript?: ReadonlyArray<TranscriptEntry>
  readonly metadata?: Metadata
}

export interface LcmUserMessage {
  readonly organizationId: string
  readonly platformSessionId: string
  readonly platformUserId: string
  readonly messageId: string
  readonly text?: string
  readonly attachments?: ReadonlyArray<Attachment>
  readonly sentDate: string
}

/** The platform's own livechat, hbf-lcm (docs/CONTRACTS.md#hbf-lcm). */
export interface HbfLcmService {
  readonly createRequest: (request: LcmLivechatRequest) => Effect.Effect<void, HbfLcmFailure>
  readonly sendMessage: (message: LcmUserMessage) => Effect.Effect<void, HbfLcmFailure>
  readonly endRequest: (platformSessionId: string) => Effect.Effect<void, HbfLcmFailure>
  /** Whether hbf-lcm answers at all (a HEAD of its requests; any answer but a 5xx is hbf-lcm there). */
  readonly probe: Effect.Effect<void, HbfLcmFailure>
}

export class HbfLcm extends Context.Tag("hbf-lcg/HbfLcm")<HbfLcm, HbfLcmService>() {}
