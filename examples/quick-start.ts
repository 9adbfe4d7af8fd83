// The README's library example, runnable: npx tsx examples/quick-start.ts
// In your own project, import from "offload" instead of "../src/index.js".
import { z } from "zod";
import { createOffload, PermanentError } from "../src/index.js";

const offload = createOffload({ database: "sqlite:./data/example.db" });

const transcribe = offload.define(
  "transcribe",
  {
    schema: z.object({ audioUrl: z.url(), language: z.string().default("en") }),
    queue: "media",
    attempts: 5,
    backoff: { type: "exponential", delay: "2s", max: "10m", jitter: true },
    timeout: "45m",
    priority: 0,
  },
  async ({ audioUrl, language }, ctx) => {
    if (!audioUrl.startsWith("https:")) throw new PermanentError("Only https URLs can be fetched");
    const segments = 20;
    for (let done = 1; done <= segments; done++) {
      ctx.signal.throwIfAborted(); // cancel, timeout, lost lease or shutdown
      await new Promise((resolve) => setTimeout(resolve, 100));
      await ctx.progress({ processed: done, total: segments, message: `segment ${done} (${language})` });
    }
    return { transcriptPath: `transcripts/${ctx.id}.txt` };
  },
);

offload.on("job:progress", ({ id, progress }) => console.log(id, `${progress.percent}%`, progress.message));
offload.on("job:completed", ({ id, result }) => console.log(id, "completed", result));

const job = await transcribe.enqueue({ audioUrl: "https://example.com/lecture.mp3" }, { priority: 5, uniqueKey: "lecture-1" });
await transcribe.enqueueMany([{ audioUrl: "https://example.com/a.mp3" }, { audioUrl: "https://example.com/b.mp3", language: "fr" }]);

await offload.start({ concurrency: { media: 2 } });

// Wait until the first job has finished, then show it as the API returns it.
for (;;) {
  const view = await offload.getJob(job.id);
  if (view && ["completed", "failed", "cancelled"].includes(view.status)) {
    console.log(view.status, view.result, view.attempt, "of", view.maxAttempts);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
const { items } = await offload.listJobs({ type: "transcribe", limit: 10 });
console.log(items.map((j) => `${j.id} ${j.status}`).join("\n"));

await offload.stop({ grace: "30s" });
await offload.close();
