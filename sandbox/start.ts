/**
 * `npm start`. With none of the gateway's variables set: the sandbox. With any of them: the
 * production entry's own program, so that a partial configuration fails at boot as the image
 * does, naming every missing variable, instead of falling back to the sandbox.
 */
import { production, runEntry } from "../src/app/program.js"
import { gatewayVariables, sandboxProgram } from "./main.js"

// An empty value counts as set: it is a configuration (a wrong one), not its absence.
runEntry(gatewayVariables.some((name) => process.env[name] !== undefined) ? production : sandboxProgram)
