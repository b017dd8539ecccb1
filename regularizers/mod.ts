/**
 * Regularizer plugins: the Fisher penalty and the penalties the paper
 * compares it with (GP, GPr, GPx), and weight decay.
 *
 * @module
 */
export * from "./fisher_penalty.ts";
export * from "./gradient_norm_penalty.ts";
export * from "./input_gradient_penalty.ts";
export * from "./weight_decay.ts";
export type { PenaltyStats } from "./_penalty.ts";
