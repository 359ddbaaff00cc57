/**
 * The production entry point (`node dist/main.js`, the Docker image): the configuration from
 * the environment (README.md#configuration), or exit 1 with one message naming every missing or
 * bad variable, before anything listens. It never runs the sandbox, which is not even built
 * into dist/ (`npm start` runs it: sandbox/start.ts).
 */
import { production, runEntry } from "./app/program.js"

runEntry(production)
