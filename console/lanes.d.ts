// The types of lanes.js for scripts/timeline.ts (tsc reads this, the browser never asks for it).
import type { TimelineEntry } from "../src/domain/timeline.js"

export type Lane = "provider" | "gateway" | "hbf-bot"
export declare const LANES: ReadonlyArray<Lane>
export declare const LANE_OF_KIND: { readonly [Kind in TimelineEntry["kind"]]: Lane }
export declare const NOTABLE_GAP_MS: number
