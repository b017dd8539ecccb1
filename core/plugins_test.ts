import assert from "node:assert/strict";
import { PluginDriver, PluginError, sortPlugins } from "./plugins.ts";
import type { Context, Plugin } from "./types.ts";

const ctx = {} as Context;

Deno.test("PluginDriver.reduce() threads a value and keeps it on undefined", () => {
  const plugins = [
    {
      name: "double",
      afterBackward: (_: Context, g: number[]) => g.map((v) => 2 * v),
    },
    { name: "keep", afterBackward: () => undefined },
    {
      name: "inc",
      afterBackward: (_: Context, g: number[]) => g.map((v) => v + 1),
    },
  ] as unknown as Plugin[];
  const out = new PluginDriver(plugins).reduce("afterBackward", ctx, [1, 2]);
  assert.deepEqual(out, [3, 5]);
});

Deno.test("PluginDriver.first() stops at the first answer", async () => {
  const asked: string[] = [];
  const answer = (name: string, value: unknown): Plugin => ({
    name,
    resume() {
      asked.push(name);
      return value as undefined;
    },
  });
  const driver = new PluginDriver([
    answer("a", undefined),
    answer("b", { counters: 1 }),
    answer("c", { counters: 2 }),
  ]);
  assert.deepEqual(await driver.first("resume", ctx), { counters: 1 });
  assert.deepEqual(asked, ["a", "b"]);
});

Deno.test("PluginDriver rejects an async reduce hook with the plugin's name", () => {
  const driver = new PluginDriver([
    { name: "async-loss", loss: (async () => {}) as unknown as Plugin["loss"] },
  ]);
  assert.throws(
    () => driver.reduce("loss", ctx, 0),
    (e: unknown) =>
      e instanceof PluginError && e.plugin === "async-loss" &&
      /must be synchronous/.test(e.message),
  );
});

Deno.test("PluginDriver.notifyAll() runs every hook and collects errors", async () => {
  const ran: string[] = [];
  const driver = new PluginDriver([
    {
      name: "a",
      teardown: () => {
        ran.push("a");
        throw new Error("x");
      },
    },
    {
      name: "b",
      teardown: () => {
        ran.push("b");
      },
    },
  ]);
  const errors = await driver.notifyAll("teardown", ctx);
  assert.deepEqual(ran, ["a", "b"]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].plugin, "a");
  assert.equal(errors[0].hook, "teardown");
});

Deno.test("sortPlugins() rejects a plugin without a name", () => {
  assert.throws(() => sortPlugins([{} as Plugin]), /without a name/);
});
