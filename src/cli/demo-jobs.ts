import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { EnqueuedJob, Offload } from "../index.js";

/**
 * Job types that show what Offload does, run by `offload start`. Their work
 * is simulated with timers: nothing is transcribed and no file is written.
 */

/** `demo.transcribe`: minutes of "audio"; each takes about a minute, so the default half minute runs about 30 s. */
const transcribeSchema = z.strictObject({ minutes: z.number().positive().max(120).default(0.5) });
/** `demo.export`: files to pack; the whole export takes about 1.5 s. */
const exportSchema = z.strictObject({ files: z.number().int().min(1).max(1_000).default(12) });
/** `demo.flaky`: attempts that fail before one succeeds. */
const flakySchema = z.strictObject({ failures: z.number().int().min(0).max(4).default(2) });
/** `demo.timeout`: seconds of work, against a timeout of 2 s. */
const timeoutSchema = z.strictObject({ seconds: z.number().positive().max(3_600).default(10) });

/** 100 segments of 0.6 s per minute of audio, each "transcribed" in 0.6 s: real time. */
const SEGMENTS_PER_MINUTE = 100;
const SEGMENT_MS = 600;
const EXPORT_MS = 1_500;

function minutesSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Defines the four demo job types on `offload` and returns them for typed enqueues. */
export function defineDemoJobs(offload: Offload) {
  const transcribe = offload.define(
    "demo.transcribe",
    // 120 minutes of audio take two hours; the timeout leaves room for that.
    { attempts: 3, queue: "media", schema: transcribeSchema, timeout: "3h" },
    async ({ minutes }, ctx) => {
      const total = Math.max(1, Math.round(minutes * SEGMENTS_PER_MINUTE));
      const audioSeconds = minutes * 60;
      let words = 0;
      for (let segment = 1; segment <= total; segment++) {
        await sleep(SEGMENT_MS, undefined, { signal: ctx.signal });
        // A deterministic stand-in for a speech model: 5 to 15 words a segment.
        words += 5 + ((segment * 7) % 11);
        await ctx.progress({
          message: `transcribing ${minutesSeconds((audioSeconds * segment) / total)} / ${minutesSeconds(audioSeconds)}`,
          processed: segment,
          total,
        });
      }
      return { segments: total, transcriptPath: `transcripts/${ctx.id}.txt`, words };
    },
  );

  const exportJob = offload.define("demo.export", { schema: exportSchema }, async ({ files }, ctx) => {
    let bytes = 0;
    for (let file = 1; file <= files; file++) {
      await sleep(EXPORT_MS / files, undefined, { signal: ctx.signal });
      bytes += 20_000 + ((file * 7_919) % 50_000);
      await ctx.progress({ message: `added notes-${String(file).padStart(2, "0")}.pdf`, processed: file, total: files });
    }
    return { bytes, files, path: `exports/${ctx.id}.zip` };
  });

  const flaky = offload.define(
    "demo.flaky",
    // A fixed 2 s without jitter, so the retries are easy to follow in the terminal.
    { attempts: 5, backoff: { delay: "2s", jitter: false, type: "fixed" }, schema: flakySchema },
    async ({ failures }, ctx) => {
      await ctx.progress({ message: `attempt ${ctx.attempt}: calling a flaky service` });
      await sleep(300, undefined, { signal: ctx.signal });
      if (ctx.attempt <= failures) {
        throw Object.assign(new Error(`Simulated outage ${ctx.attempt} of ${failures}: the service answered 503`), { code: "service_unavailable" });
      }
      return { attempts: ctx.attempt, ok: true };
    },
  );

  const timeout = offload.define(
    "demo.timeout",
    { attempts: 2, backoff: { delay: "1s", jitter: false, type: "fixed" }, schema: timeoutSchema, timeout: "2s" },
    async ({ seconds }, ctx) => {
      const steps = Math.ceil(seconds * 2);
      for (let step = 1; step <= steps; step++) {
        await sleep(500, undefined, { signal: ctx.signal });
        await ctx.progress({ message: `working: ${step / 2} s of ${seconds} s (the timeout is 2 s)`, percent: Math.min(100, (100 * step) / steps) });
      }
      return { seconds };
    },
  );

  return { export: exportJob, flaky, timeout, transcribe };
}

export type DemoJobs = ReturnType<typeof defineDemoJobs>;

/**
 * Enqueues one job of each demo type. Each carries the `uniqueKey` "demo", so
 * a restart while the previous one is still waiting or running gets that job
 * back (`deduplicated`) instead of piling up another.
 */
export async function enqueueDemoJobs(demo: DemoJobs): Promise<EnqueuedJob[]> {
  const options = { uniqueKey: "demo" };
  return [
    await demo.transcribe.enqueue({ minutes: 0.5 }, options),
    await demo.export.enqueue({ files: 12 }, options),
    await demo.flaky.enqueue({ failures: 2 }, options),
    await demo.timeout.enqueue({ seconds: 10 }, options),
  ];
}
