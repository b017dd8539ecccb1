/**
 * Plugin dispatch: ordering, the three hook kinds (notify, reduce, first),
 * and errors that name the plugin and the hook that failed.
 *
 * @module
 */
import type { Context, Plugin } from "./types.ts";

/** An error thrown by a plugin's hook, wrapped with where it happened. */
export class PluginError extends Error {
  /** The plugin's name. */
  readonly plugin: string;
  /** The hook that threw. */
  readonly hook: string;

  constructor(plugin: string, hook: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`Plugin "${plugin}" failed in hook "${hook}": ${detail}`, {
      cause,
    });
    this.name = "PluginError";
    this.plugin = plugin;
    this.hook = hook;
  }
}

type HookName = Exclude<
  keyof Plugin,
  "name" | "enforce" | "getState" | "setState"
>;

/**
 * Orders plugins: `enforce: "pre"` first, then those without, then "post",
 * keeping the given order within each group. Names must be unique, since
 * they key metrics and checkpoint state.
 */
export function sortPlugins(plugins: readonly Plugin[]): Plugin[] {
  const seen = new Set<string>();
  for (const p of plugins) {
    if (!p || typeof p.name !== "string" || p.name === "") {
      throw new TypeError(
        "Cannot use a plugin without a name: give every plugin a `name`",
      );
    }
    if (seen.has(p.name)) {
      throw new RangeError(
        `Cannot use two plugins named "${p.name}": names key metrics and ` +
          "checkpoints, so give the second one another name",
      );
    }
    seen.add(p.name);
  }
  const rank = (p: Plugin) =>
    p.enforce === "pre" ? 0 : p.enforce === "post" ? 2 : 1;
  return plugins
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map(({ p }) => p);
}

/** Calls hooks of the plugins in order and wraps their errors. */
export class PluginDriver {
  readonly plugins: Plugin[];

  constructor(plugins: readonly Plugin[]) {
    this.plugins = sortPlugins(plugins);
  }

  /** notify: runs `hook` of every plugin in turn; the first error stops it. */
  async notify(
    hook: HookName,
    ctx: Context,
    ...rest: unknown[]
  ): Promise<void> {
    await this.#each(hook, ctx, rest, (error) => {
      throw error;
    });
  }

  /**
   * notify, after a failure: runs every plugin's hook even when some throw,
   * and returns the errors instead of throwing.
   */
  async notifyAll(
    hook: HookName,
    ctx: Context,
    ...rest: unknown[]
  ): Promise<PluginError[]> {
    const errors: PluginError[] = [];
    await this.#each(hook, ctx, rest, (error) => errors.push(error));
    return errors;
  }

  async #each(
    hook: HookName,
    ctx: Context,
    rest: unknown[],
    onError: (error: PluginError) => void,
  ): Promise<void> {
    for (const plugin of this.plugins) {
      const fn = plugin[hook] as
        | ((ctx: Context, ...a: unknown[]) => unknown)
        | undefined;
      if (!fn) continue;
      try {
        await fn.call(plugin, ctx, ...rest);
      } catch (error) {
        onError(wrap(plugin, hook, error));
      }
    }
  }

  /** reduce, synchronous: threads `value` through `hook` of each plugin. */
  reduce<T>(hook: HookName, ctx: Context, value: T): T {
    for (const plugin of this.plugins) {
      const fn = plugin[hook] as
        | ((ctx: Context, value: T) => T | void)
        | undefined;
      if (!fn) continue;
      let next: T | void;
      try {
        next = fn.call(plugin, ctx, value);
      } catch (error) {
        throw wrap(plugin, hook, error);
      }
      if (next instanceof Promise) {
        throw new PluginError(
          plugin.name,
          hook,
          new TypeError(
            `hook "${hook}" must be synchronous, it returned a Promise`,
          ),
        );
      }
      if (next !== undefined) value = next;
    }
    return value;
  }

  /** first: the first answer that is not undefined, or undefined. */
  async first<T>(hook: HookName, ctx: Context): Promise<T | undefined> {
    for (const plugin of this.plugins) {
      const fn = plugin[hook] as
        | ((ctx: Context) => T | undefined | Promise<T | undefined>)
        | undefined;
      if (!fn) continue;
      let answer: T | undefined;
      try {
        answer = await fn.call(plugin, ctx);
      } catch (error) {
        throw wrap(plugin, hook, error);
      }
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  /** True when some plugin implements `hook`. */
  has(hook: HookName): boolean {
    return this.plugins.some((p) => typeof p[hook] === "function");
  }
}

function wrap(plugin: Plugin, hook: string, error: unknown): PluginError {
  if (error instanceof PluginError) return error;
  return new PluginError(plugin.name, hook, error);
}
