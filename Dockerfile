# Node.js 26, the current LTS (since 2026-10-28), by exact version; CI runs the suite on the
# same version (.ci/lts-node, checked by test/integration/compiledEntry.test.ts).
# Build: compile TypeScript with the dev toolchain.
FROM node:26.12.1-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Run: production dependencies and compiled JavaScript only, as a non-root user.
FROM node:26.12.1-trixie-slim
# A larger young generation: polling thousands of chats allocates fast, and with the default
# 16 MB semi-space GC took a quarter of the CPU (bench:cisco: 0.70 -> 0.56 of a core, p99 5.8 -> 5.0 s).
# npm start and start:prod (package.json) pass the same flag (perf: docs/ARCHITECTURE.md#perf-semi-space).
ENV NODE_ENV=production PORT=3000 NODE_OPTIONS=--max-semi-space-size=64
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The operator console's static files, served from beside dist/ (src/http/console.ts).
COPY console ./console
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/main.js"]
