import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import {
  compose,
  defaultAugmentation,
  defaultPreprocessing,
} from "./augmentation.ts";

Deno.test("defaultAugmentation() is on for CIFAR and off for MNIST", () => {
  assert.equal(defaultAugmentation("mnist/train"), undefined);
  assert.equal(defaultAugmentation("fashion-mnist"), undefined);
  assert.equal(defaultPreprocessing("mnist"), undefined);
  const cifar = defaultAugmentation("cifar10/train");
  assert.equal(cifar?.name, "crop(4)+flip+normalize");
  assert.equal(cifar?.deterministic, false);
  const pre = defaultPreprocessing("cifar100-fine/test");
  assert.equal(pre?.deterministic, true);
  const x = new Float32Array(32 * 32 * 3).fill(0.5);
  pre!.apply(x, [32, 32, 3], new Random(0));
  assert.ok(Math.abs(x[0] - (0.5 - 0.5071) / 0.2673) < 1e-6);
});

Deno.test("compose() applies steps in order", () => {
  const log: string[] = [];
  const step = (name: string) => ({
    name,
    apply: () => void log.push(name),
  });
  const both = compose(step("a"), step("b"));
  both.apply(new Float32Array(1), [1], new Random(0));
  assert.deepEqual(log, ["a", "b"]);
  assert.equal(both.name, "a+b");
});
