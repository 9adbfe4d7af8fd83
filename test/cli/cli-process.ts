import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = `${ROOT}src/cli/main.ts`;
// Absolute, so the child finds tsx whatever its working directory.
const TSX = createRequire(import.meta.url).resolve("tsx");

const running = new Set<ChildProcess>();

/** Kills (SIGKILL) every child spawned by {@link spawnCli} that is still running; for `after` hooks. */
export function killRunningClis(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  running.clear();
}

/** A running `offload` process: its output so far, line by line, and ways to wait on it. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: string[];
  readonly stdout: string[];
  /** Resolves with the first stdout line (seen or to come) matching `pattern`; rejects after `timeoutMs` showing the output. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code; rejects after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<number | null>;
}

/** Runs `src/cli/main.ts` through tsx, as `offload <args>` would run; colour off. */
export function spawnCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliProcess {
  const child = spawn(process.execPath, ["--import", TSX, MAIN, ...args], {
    cwd: options.cwd ?? ROOT,
    // PORT 0: `offload start` serves the HTTP API, and parallel tests must not share a fixed port.
    env: { ...process.env, NO_COLOR: "1", PORT: "0", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  child.on("exit", () => running.delete(child));
  const stdout: string[] = [];
  const stderr: string[] = [];
  const watchers = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream, into: string[]) => {
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      into.push(...parts);
      for (const watcher of watchers) watcher();
    });
    stream.on("end", () => {
      if (rest) into.push(rest);
      for (const watcher of watchers) watcher();
    });
  };
  collect(child.stdout!, stdout);
  collect(child.stderr!, stderr);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  const output = () => `\n--- stdout ---\n${stdout.join("\n")}\n--- stderr ---\n${stderr.join("\n")}`;

  return {
    child,
    exited,
    stderr,
    stdout,
    waitForLine(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = stdout.find((l) => pattern.test(l));
          if (line === undefined) return;
          done();
          resolve(line);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`Timed out after ${timeoutMs}ms waiting for a line matching ${pattern}${output()}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
      });
    },
    async waitForExit(timeoutMs = 15_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`offload ${args.join(" ")} did not exit within ${timeoutMs}ms${output()}`)), timeoutMs);
      });
      try {
        return (await Promise.race([exited, timeout])).code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Runs a command that ends by itself and returns its exit code and output. */
export async function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const cli = spawnCli(args, options);
  const code = await cli.waitForExit();
  return { code, stderr: cli.stderr.join("\n"), stdout: cli.stdout.join("\n") };
}
