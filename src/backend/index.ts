export type { Backend, BackendCapabilities, ClaimParams, Notifier, QueueClaim } from "./backend.js";
export type * from "./types.js";
export type { JobProgress } from "../job/progress.js";
export type { JobState } from "../job/states.js";
