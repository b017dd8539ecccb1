import assert from "node:assert/strict";
import { tf, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { type ParamFilter, trainableParams } from "../core/functional.ts";
import { Random } from "../core/random.ts";
import { fisherTrace } from "./fisher_trace.ts";
import { lossHessian } from "./hessian_operator.ts";
import { simpleCnn } from "../models/simple_cnn.ts";
import {
  denseMatrix,
  exactFishers,
  tinyData,
  tinyImages,
  tinyMlp,
  tinyResnet,
  trace,
} from "./_testing.ts";

await useBackend("cpu");

function relative(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

Deno.test("fisherTrace() exact mode matches the formed Fisher", async () => {
  const model = tinyMlp({ widths: [3, 4, 3] });
  const data = tinyData(6, 3, 3);
  const params = trainableParams(model);
  const { fisher, empirical } = exactFishers(model, data, params);
  const before = tf.memory().numTensors;

  const fast = await fisherTrace(model, data, { bn: "running" });
  assert.equal(fast.perExample, "batched");
  assert.ok(relative(fast.trace, trace(fisher)) < 1e-4, `${fast.trace}`);
  assert.ok(relative(fast.empirical!, trace(empirical)) < 1e-4);
  assert.equal(fast.se, 0);

  const loop = await fisherTrace(model, data, { perExample: "loop" });
  assert.equal(loop.perExample, "loop");
  assert.ok(relative(loop.trace, trace(fisher)) < 1e-4, `${loop.trace}`);
  assert.ok(relative(loop.empirical!, trace(empirical)) < 1e-4);

  // Small chunks give the same mean.
  const chunked = await fisherTrace(model, data, { batchSize: 4 });
  assert.ok(relative(chunked.trace, trace(fisher)) < 1e-4);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("fisherTrace() counts only the chosen parameters", async () => {
  const model = tinyMlp({ widths: [3, 5, 4], activation: "tanh" });
  const data = tinyData(5, 3, 4);
  const keep = (name: string) => name.endsWith("kernel");
  const params = trainableParams(model, keep);
  const { fisher } = exactFishers(model, data, params);
  const result = await fisherTrace(model, data, { params: keep });
  assert.equal(result.perExample, "batched");
  assert.ok(relative(result.trace, trace(fisher)) < 1e-4);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("fisherTrace() sampled and mini-batch agree within their SE", async () => {
  const model = tinyMlp({ widths: [3, 4, 3], seed: 5 });
  const data = tinyData(8, 3, 3);
  const exact = (await fisherTrace(model, data)).trace;
  const before = tf.memory().numTensors;

  const sampled = await fisherTrace(model, data, {
    mode: "sampled",
    samples: 100,
    random: new Random(11),
  });
  assert.ok(sampled.se > 0 && sampled.se < 0.2 * exact, `se ${sampled.se}`);
  assert.ok(Math.abs(sampled.trace - exact) < 4 * sampled.se);

  const batch = await fisherTrace(model, data, {
    mode: "mini-batch",
    samples: 400,
    random: new Random(12),
    empirical: false,
  });
  assert.equal(batch.perExample, undefined);
  assert.ok(batch.se > 0 && batch.se < 0.2 * exact, `se ${batch.se}`);
  assert.ok(
    Math.abs(batch.trace - exact) < 4 * batch.se,
    `${batch.trace} vs ${exact} (se ${batch.se})`,
  );

  // Chunks of 3, 3 and 2 examples, weighted by their share.
  const chunked = await fisherTrace(model, data, {
    mode: "mini-batch",
    batchSize: 3,
    samples: 200,
    random: new Random(13),
    empirical: false,
  });
  assert.ok(
    Math.abs(chunked.trace - exact) < 4 * chunked.se,
    `${chunked.trace} vs ${exact} (se ${chunked.se})`,
  );

  // One draw per example: the SE comes from the spread across examples.
  const one = await fisherTrace(model, data, { mode: "sampled" });
  assert.ok(Number.isFinite(one.se) && one.se > 0);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("fisherTrace() equals Tr(H) for a ReLU MLP, not for tanh", async () => {
  // PAPER.md: piecewise-linear layers without batch norm give diag(H) =
  // diag(GGN), and the GGN of cross-entropy is the true Fisher.
  for (const activation of ["relu", "tanh"] as const) {
    const model = tinyMlp({ widths: [3, 5, 4, 3], activation, seed: 7 });
    const data = tinyData(6, 3, 3, 4);
    const op = lossHessian(model, data);
    const h = await denseMatrix(op);
    op.dispose();
    const { trace: fisher } = await fisherTrace(model, data);
    const gap = relative(fisher, trace(h));
    if (activation === "relu") assert.ok(gap < 1e-4, `relu gap ${gap}`);
    else assert.ok(gap > 1e-2, `tanh gap ${gap}`);
    tf.dispose([data.x, data.y]);
    model.dispose();
  }
});

Deno.test("fisherTrace() handles batch norm in both modes", async () => {
  const model = tinyMlp({ widths: [3, 4, 3], batchNorm: true, seed: 3 });
  const data = tinyData(6, 3, 3);
  const running = await fisherTrace(model, data, {
    bn: "running",
    params: "no-batchnorm",
  });
  assert.equal(running.perExample, "batched");
  const looped = await fisherTrace(model, data, {
    bn: "running",
    params: "no-batchnorm",
    perExample: "loop",
  });
  assert.ok(relative(running.trace, looped.trace) < 1e-4);

  const stats = () => model.nonTrainableWeights.map((w) => w.read().dataSync());
  const saved = stats();
  const batch = await fisherTrace(model, data, { bn: "batch" });
  assert.equal(batch.perExample, "loop");
  assert.ok(relative(batch.trace, running.trace) > 1e-3);
  // Batch statistics were used, but the running ones were left as they were.
  assert.deepEqual(stats(), saved);
  const sampled = await fisherTrace(model, data, {
    bn: "batch",
    mode: "mini-batch",
  });
  assert.ok(sampled.trace > 0);
  assert.deepEqual(stats(), saved);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("fisherTrace() rejects an unknown mode with the valid ones", async () => {
  const model = tinyMlp();
  const data = tinyData(2, 3, 3);
  await assert.rejects(
    () => fisherTrace(model, data, { mode: "full" as never }),
    /Cannot compute Tr\(F\): mode "full" is unknown; choose one of "exact"/,
  );
  await assert.rejects(
    () => fisherTrace(model, data, { bn: "frozen" as never }),
    /bn mode "frozen" is unknown/,
  );
  tf.dispose([data.x, data.y]);
  model.dispose();
});

async function cnnOracle(backend: "cpu" | "wasm") {
  // Conv + ReLU + max pool + dense is piecewise linear in each weight, so
  // the PAPER.md oracle holds.
  await useBackend(backend);
  try {
    const model = simpleCnn({
      inputShape: [4, 4, 1],
      filters: [2],
      dense: 3,
      classes: 3,
      seed: 1,
    });
    const random = new Random(8);
    const x = tf.tensor4d(
      Float32Array.from({ length: 5 * 16 }, () => random.normal()),
      [5, 4, 4, 1],
    );
    const data = { x, y: tf.tensor1d([0, 1, 2, 1, 0], "int32") };
    const params = trainableParams(model);
    const { fisher } = exactFishers(model, data, params);
    const op = lossHessian(model, data);
    const h = await denseMatrix(op);
    op.dispose();
    const before = tf.memory().numTensors;
    const result = await fisherTrace(model, data);
    assert.equal(result.perExample, "batched");
    assert.ok(relative(result.trace, trace(fisher)) < 1e-4, backend);
    assert.ok(
      relative(result.trace, trace(h)) < 1e-4,
      `${backend}: Tr(F) ${result.trace} vs Tr(H) ${trace(h)}`,
    );
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([data.x, data.y]);
    model.dispose();
  } finally {
    await useBackend("cpu");
  }
}

Deno.test("fisherTrace() on a small CNN (cpu): exact, and Tr(H) = Tr(F)", () =>
  cnnOracle("cpu"));

Deno.test("fisherTrace() on a small CNN (wasm): exact, and Tr(H) = Tr(F)", () =>
  cnnOracle("wasm"));

Deno.test("fisherTrace() batched conv norms match the loop", async () => {
  // Strides, "valid" padding, an even kernel with "same" padding (extra
  // padding goes last), tanh, and a conv without bias.
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [5, 6, 2],
        filters: 3,
        kernelSize: 3,
        strides: 2,
        padding: "same",
        activation: "relu",
      }),
      tfl.layers.conv2d({
        filters: 2,
        kernelSize: 2,
        padding: "same",
        activation: "tanh",
        useBias: false,
      }),
      tfl.layers.conv2d({ filters: 2, kernelSize: [2, 1], padding: "valid" }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  const random = new Random(9);
  const x = tf.tensor4d(
    Float32Array.from({ length: 4 * 60 }, () => random.normal()),
    [4, 5, 6, 2],
  );
  const data = { x, y: tf.tensor1d([2, 0, 1, 1], "int32") };
  const before = tf.memory().numTensors;
  const first = model.layers[0].name;
  const filters: ParamFilter[] = [
    "all",
    (name) => name.endsWith("kernel"),
    (name) => !name.startsWith(first),
  ];
  for (const params of filters) {
    const fast = await fisherTrace(model, data, { params, bn: "running" });
    const loop = await fisherTrace(model, data, {
      params,
      perExample: "loop",
    });
    assert.equal(fast.perExample, "batched");
    assert.ok(relative(fast.trace, loop.trace) < 1e-4, `${fast.trace}`);
    assert.ok(relative(fast.empirical!, loop.empirical!) < 1e-4);
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("fisherTrace() on a ResNet with running statistics: batched equals the loop", async () => {
  const model = tinyResnet(4);
  const x = tinyImages(5, [8, 8, 3]);
  const data = { x, y: tf.tensor1d([0, 3, 1, 2, 3], "int32") };
  const before = tf.memory().numTensors;
  const fast = await fisherTrace(model, data, { bn: "running" });
  assert.equal(tf.memory().numTensors, before);
  const loop = await fisherTrace(model, data, {
    bn: "running",
    perExample: "loop",
  });
  assert.equal(fast.perExample, "batched");
  assert.equal(loop.perExample, "loop");
  assert.ok(relative(fast.trace, loop.trace) < 1e-4, `${fast.trace}`);
  assert.ok(relative(fast.empirical!, loop.empirical!) < 1e-4);
  const batch = await fisherTrace(model, data, { bn: "batch" });
  assert.equal(batch.perExample, "loop");
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("fisherTrace() mini-batch is B ||mean grad||^2 at labels drawn by inverse CDF from the model's softmax", async () => {
  const model = tinyMlp({ widths: [3, 5, 4], activation: "tanh", seed: 6 });
  const data = tinyData(7, 3, 4, 11);
  const params = trainableParams(model);
  const result = await fisherTrace(model, data, {
    mode: "mini-batch",
    empirical: false,
    samples: 2,
    random: new Random(21),
  });
  // By hand, with the same stream: each draw takes one uniform per row.
  const random = new Random(21);
  const values = [0, 1].map(() =>
    tf.tidy(() => {
      const probs = tf.softmax(model.predict(data.x) as tf.Tensor)
        .arraySync() as number[][];
      const labels = probs.map((row) => {
        const u = random.next();
        let acc = 0;
        for (let c = 0; c < row.length - 1; c++) {
          acc += row[c];
          if (u < acc) return c;
        }
        return row.length - 1;
      });
      const y = tf.tensor1d(labels, "int32");
      const { grads } = tf.variableGrads(
        () =>
          tf.losses.softmaxCrossEntropy(
            tf.oneHot(y, 4),
            model.predict(data.x) as tf.Tensor,
          ) as tf.Scalar,
        params,
      );
      let sq = 0;
      for (const g of Object.values(grads)) {
        sq += tf.sum(tf.square(g)).arraySync() as number;
      }
      return 7 * sq;
    })
  );
  const expected = (values[0] + values[1]) / 2;
  assert.ok(
    relative(result.trace, expected) < 1e-4,
    `${result.trace} against ${expected}`,
  );
  tf.dispose([data.x, data.y]);
  model.dispose();
});
