/**
 * Evaluators: curvature of the loss (Tr(F), Tr(H), lambda_max and the top
 * eigenvalues), memorization of noisy labels, the standard training
 * metrics, and studies that relate early statistics to final results
 * across runs. Each measurement is a function of a model and data, and a
 * plugin that runs it on a schedule during training.
 *
 * @module
 */
export * from "./fisher_trace.ts";
export * from "./hessian_operator.ts";
export * from "./hessian_trace.ts";
export * from "./sharpness.ts";
export * from "./lanczos.ts";
export * from "./curvature_monitors.ts";
export * from "./eval_schedule.ts";
export * from "./memorization.ts";
export * from "./standard_metrics.ts";
export * from "./metric_names.ts";
export * from "./correlation.ts";
export * from "./study.ts";
export * from "./labelled_data.ts";
export * from "./curvature_options.ts";
export * from "./monitor_options.ts";
