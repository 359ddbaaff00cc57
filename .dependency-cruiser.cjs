/**
 * The direction of imports (docs/ARCHITECTURE.md once the structure issue lands; README
 * "Architecture" today), checked by `npm run lint:imports` in CI: a wrong import fails the build.
 *
 *   domain    <- services <- everything else     (the model and the service contracts know nothing of implementations)
 *   sandbox   is the development stand-in: nothing of the product imports it (it is not in the image)
 *   src       never imports the tests or the benchmarks
 */
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
      name: "no-sandbox-in-the-product",
      comment: "The sandbox (simulators, demo tenants) stands in for hbf-* and providers in development; the product never depends on it.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/sandbox/" },
      to: { path: "^src/sandbox/" }
    },
    {
      name: "no-tests-in-src",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench)/" }
    },
    {
      name: "features-apart",
      comment: "Providers, the cluster and the HTTP surface meet only in the assembly (src/layers/App.ts) and through services.",
      severity: "error",
      from: { path: "^src/(providers|cluster)/" },
      to: { path: "^src/http/" }
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
