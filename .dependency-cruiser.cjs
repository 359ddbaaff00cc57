/**
 * The direction of imports (docs/ARCHITECTURE.md#layers-and-the-direction-of-imports), checked
 * by `npm run lint:imports` in CI: a wrong import fails the build.
 *
 *   domain      the normalized model: imports nothing of the gateway
 *   services    tags, interfaces, domain errors: the domain only
 *   infra       shared infrastructure (outbound calls, metrics, tracing, logging, Redis):
 *               imports no feature
 *   stores      SessionStore and Outbox: MemoryStore, RedisStore (RedisSessionStore, RedisOutbox)
 *   gateway     the use cases (LivechatRequests, Messaging, Queries, Ingest, Timeouts, over
 *               SessionChanges), the DeliveryWorker and the Sweeper
 *   hbf         the hbf-* clients           providers   the livechat providers
 *   cluster     coordination over Redis      http        the HTTP surface
 *   app         the assembly: the one place that may import everything
 *
 * Beside src/: sandbox/, the development stand-in (simulators, demo tenants, `npm start`): it may
 * use anything of src/, nothing of src/ imports it (it is not built into dist/). Both are cruised.
 */
const features = "gateway|hbf|providers|cluster|http|stores|app"

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "domain-is-the-bottom",
      comment: "src/domain is the normalized model: it imports nothing of the gateway but itself.",
      severity: "error",
      from: { path: "^src/domain/" },
      to: { path: "^src/", pathNot: "^src/domain/" }
    },
    {
      name: "services-are-contracts",
      comment: "src/services holds tags, interfaces and domain errors: only the domain below them.",
      severity: "error",
      from: { path: "^src/services/" },
      to: { path: "^src/", pathNot: "^src/(domain|services)/" }
    },
    {
      name: "infra-imports-no-feature",
      comment: "Shared infrastructure is below every feature: it may use the domain and the service contracts, nothing else.",
      severity: "error",
      from: { path: "^src/infra/" },
      to: { path: `^src/(${features})/` }
    },
    {
      name: "features-apart",
      comment: "The features meet only in the assembly (src/app) and through the service contracts.",
      severity: "error",
      from: { path: `^src/(${features.replace("|app", "")})/` },
      to: { path: `^src/(${features})/`, pathNot: "^src/$1/" }
    },
    {
      name: "only-the-entry-uses-the-assembly",
      severity: "error",
      comment: "The assembly is started by the production entry (and, from outside src/, by the sandbox's).",
      from: { path: "^src/", pathNot: "^src/(app/|main\\.ts$)" },
      to: { path: "^src/app/" }
    },
    {
      name: "the-client-is-the-api-alone",
      severity: "error",
      comment: "The typed client is built from the HttpApi definition: it reaches no implementation, and the product does not use it.",
      from: { path: "^src/client/" },
      to: { path: "^src/(gateway|hbf|providers|cluster|stores|app|infra)/" }
    },
    {
      name: "nothing-uses-the-client",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/client/" },
      to: { path: "^src/client/" }
    },
    {
      name: "no-sandbox-in-the-product",
      comment: "The sandbox (simulators, demo tenants) stands in for hbf-* and providers in development; the product never depends on it.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^sandbox/" }
    },
    {
      name: "no-tests-in-src",
      comment: "Neither the product nor the sandbox depends on the tests, the benchmarks or the docs scripts.",
      severity: "error",
      from: { path: "^(src|sandbox)/" },
      to: { path: "^(test|bench|scripts)/" }
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] }
  }
}
