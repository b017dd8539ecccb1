/**
 * General plugins: the progress reporter and checkpoints.
 *
 * @module
 */
export { formatDuration, progress, type ProgressOptions } from "./progress.ts";
export { checkpoint, type CheckpointOptions } from "./checkpoint.ts";
