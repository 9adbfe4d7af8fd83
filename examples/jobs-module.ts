// A job module for the CLI:
//   node dist/cli/main.js worker --jobs examples/jobs-module.ts
// (in a project that depends on offload: npx offload worker --jobs ./jobs.js).
// TypeScript modules load when tsx is installed; otherwise compile to JavaScript first.
// The module exports a function, as default or as `defineJobs`, that receives the
// CLI's Offload instance and defines job types on it. Import types from "offload"
// in your own project.
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { Offload } from "../src/index.js";

export default function defineJobs(offload: Offload): void {
  offload.define(
    "email.send",
    { schema: z.object({ to: z.email(), subject: z.string() }), queue: "email", attempts: 5 },
    async ({ to, subject }, ctx) => {
      await ctx.progress({ message: `sending "${subject}" to ${to}` });
      await sleep(200, undefined, { signal: ctx.signal });
      return { messageId: `${ctx.id}@example.com` };
    },
  );
}
