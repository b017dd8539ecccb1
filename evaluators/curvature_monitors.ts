/**
 * Plugins that measure curvature during training on a schedule: Tr(F),
 * Tr(H) and lambda_max (or the top k eigenvalues) on a fixed subset.
 *
 * @module
 */
import type { Plugin } from "../core/types.ts";
import { monitor } from "./_monitor.ts";
import type { MonitorOptions } from "./monitor_options.ts";
import { fisherTrace, type FisherTraceOptions } from "./fisher_trace.ts";
import { hessianTrace, type HessianTraceOptions } from "./hessian_trace.ts";
import { sharpness, type SharpnessOptions } from "./sharpness.ts";
import { type LanczosOptions, topEigenvalues } from "./lanczos.ts";
import { METRICS } from "./metric_names.ts";

/** Options for {@linkcode fisherTraceMonitor}. */
export interface FisherTraceMonitorOptions
  extends MonitorOptions, Omit<FisherTraceOptions, "random"> {}

/**
 * Logs "fisher/trace", "fisher/trace_se" and (unless `empirical: false`)
 * "fisher/empirical" on its schedule; see {@linkcode fisherTrace}. Label
 * samples come from the run's random stream "fisher-trace".
 *
 * @example Dense early in training
 * ```ts
 * import { fisherTraceMonitor } from "./curvature_monitors.ts";
 * const plugin = fisherTraceMonitor({
 *   mode: "mini-batch",
 *   schedule: { every: 50, denseUntil: 500, denseEvery: 10 },
 * });
 * console.assert(plugin.name === "fisher-trace");
 * ```
 */
export function fisherTraceMonitor(
  options: FisherTraceMonitorOptions = {},
): Plugin {
  return monitor("fisher-trace", options, async (ctx, data, random) => {
    const r = await fisherTrace(ctx.model, data, { ...options, random });
    return {
      [METRICS.fisherTrace]: r.trace,
      ...(Number.isFinite(r.se) ? { [METRICS.fisherTraceSe]: r.se } : {}),
      ...(r.empirical === undefined
        ? {}
        : { [METRICS.fisherEmpirical]: r.empirical }),
    };
  });
}

/** Options for {@linkcode hessianTraceMonitor}. */
export interface HessianTraceMonitorOptions
  extends MonitorOptions, Omit<HessianTraceOptions, "random"> {}

/**
 * Logs "hessian/trace" and "hessian/trace_se" (Hutchinson, see
 * {@linkcode hessianTrace}) on its schedule; probes come from the run's
 * random stream "hessian-trace".
 *
 * @example
 * ```ts
 * import { hessianTraceMonitor } from "./curvature_monitors.ts";
 * const plugin = hessianTraceMonitor({ maxProbes: 20 });
 * console.assert(plugin.name === "hessian-trace");
 * ```
 */
export function hessianTraceMonitor(
  options: HessianTraceMonitorOptions = {},
): Plugin {
  return monitor("hessian-trace", options, async (ctx, data, random) => {
    const r = await hessianTrace(ctx.model, data, { ...options, random });
    return {
      [METRICS.hessianTrace]: r.trace,
      ...(Number.isFinite(r.se) ? { [METRICS.hessianTraceSe]: r.se } : {}),
    };
  });
}

/** Options for {@linkcode sharpnessMonitor}. */
export interface SharpnessMonitorOptions
  extends
    MonitorOptions,
    Omit<SharpnessOptions, "random">,
    Omit<LanczosOptions, "random" | "tolerance"> {
  /**
   * "power" (default): power iteration, logs "hessian/lambda_max".
   * "lanczos": also logs the top `k` eigenvalues as "hessian/eigenvalue_1"
   * to "hessian/eigenvalue_k"; lambda_max is the first.
   */
  method?: "power" | "lanczos";
}

/**
 * Logs lambda_max of the loss Hessian ("hessian/lambda_max") on its
 * schedule, by power iteration or Lanczos; see {@linkcode sharpness} and
 * {@linkcode topEigenvalues}.
 *
 * @example
 * ```ts
 * import { sharpnessMonitor } from "./curvature_monitors.ts";
 * const plugin = sharpnessMonitor({ method: "lanczos", k: 3 });
 * console.assert(plugin.name === "sharpness");
 * ```
 */
export function sharpnessMonitor(
  options: SharpnessMonitorOptions = {},
): Plugin {
  const method = options.method ?? "power";
  if (method !== "power" && method !== "lanczos") {
    throw new RangeError(
      `Cannot create "sharpness": method "${method}" is unknown; choose ` +
        '"power" or "lanczos"',
    );
  }
  return monitor("sharpness", options, async (ctx, data, random) => {
    if (method === "power") {
      const r = await sharpness(ctx.model, data, { ...options, random });
      return { [METRICS.lambdaMax]: r.lambdaMax };
    }
    const r = await topEigenvalues(ctx.model, data, { ...options, random });
    const out: Record<string, number> = {
      [METRICS.lambdaMax]: r.eigenvalues[0],
    };
    r.eigenvalues.forEach((v, i) => out[`${METRICS.eigenvalue}${i + 1}`] = v);
    return out;
  });
}
