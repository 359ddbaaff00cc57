import { Context, type Effect } from "effect"

/** The process's metrics as a scraper reads them. */
export interface MetricsExportService {
  /** Prometheus text exposition format. */
  readonly prometheusText: Effect.Effect<string>
}

export class MetricsExport extends Context.Tag("hbf-lcg/MetricsExport")<MetricsExport, MetricsExportService>() {}
