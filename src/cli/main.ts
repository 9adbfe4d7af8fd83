#!/usr/bin/env node
import { CommanderError } from "commander";
import { OffloadError } from "../index.js";
import { CliError } from "./cli-error.js";
import { buildProgram } from "./program.js";

/** Commander has already printed its message; usage errors exit 2, help and version 0. */
function commanderExitCode(error: CommanderError): number {
  if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
  return error.exitCode === 0 ? 0 : 2;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = commanderExitCode(error);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message}\n`);
    if (process.env.OFFLOAD_DEBUG && error instanceof Error && !(error instanceof OffloadError)) process.stderr.write(`${error.stack}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}

// Everything is closed by now; a handle left open by a job module must not keep the process alive.
setTimeout(() => process.exit(), 2_000).unref();
