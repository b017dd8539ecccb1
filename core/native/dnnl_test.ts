import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { convGeometry } from "./_im2col.ts";
import { loadDnnl } from "./dnnl.ts";
import { normals, relErr } from "../kernels/_test_util.ts";

const found = loadDnnl();
const ignore = !found.available;
const skipped = found.available ? "" : ` (skipped: ${found.reason})`;

type Pad = "same" | "valid" | number;
/** [x shape, filter shape, strides, pad]: the layers of fisherlab's zoo and odd ones. */
const CASES: [number[], number[], number, Pad][] = [
  [[4, 28, 28, 1], [3, 3, 1, 8], 1, "same"],
  [[3, 14, 14, 8], [3, 3, 8, 16], 1, "same"],
  [[2, 12, 12, 16], [3, 3, 16, 16], 1, "same"],
  [[2, 12, 12, 16], [3, 3, 16, 32], 2, "same"],
  [[2, 12, 12, 16], [1, 1, 16, 32], 2, "same"],
  [[2, 9, 8, 3], [3, 2, 3, 5], 1, "valid"],
  [[2, 9, 9, 4], [3, 3, 4, 6], 2, "valid"],
  [[1, 7, 7, 2], [5, 5, 2, 3], 1, 2],
];

Deno.test({
  name: `oneDNN's convolution and both its gradients match tfjs's cpu ` +
    `kernels${skipped}`,
  ignore,
  fn: async () => {
    if (!found.available) return;
    const dnnl = found.dnnl;
    await tf.setBackend("cpu");
    let seed = 1;
    for (const [xShape, fShape, strides, pad] of CASES) {
      const label = `${xShape} ${fShape} ${strides} ${pad}`;
      const info = tf.backend_util.computeConv2DInfo(
        xShape as [number, number, number, number],
        fShape as [number, number, number, number],
        strides,
        1,
        pad,
      );
      const g = convGeometry(info)!;
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = normals(size(xShape), seed++);
      const w = normals(size(fShape), seed++);
      const bias = normals(fShape[3], seed++);
      const dy = normals(size(info.outShape), seed++);
      const expected = tf.tidy(() => {
        const xt = tf.tensor4d(x, xShape as [number, number, number, number]);
        const wt = tf.tensor4d(w, fShape as [number, number, number, number]);
        const dyt = tf.tensor4d(dy, info.outShape);
        const y = tf.add(tf.conv2d(xt, wt, strides, pad), tf.tensor1d(bias));
        const dx = tf.conv2dTranspose(dyt, wt, xt.shape, strides, pad);
        const dw = tf.grad((f: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(xt, f as tf.Tensor4D, strides, pad), dyt))
        )(wt);
        return [y, dx, dw].map((t) => t.dataSync() as Float32Array);
      });
      const y = new Float32Array(size(info.outShape));
      const dx = new Float32Array(x.length);
      const dw = new Float32Array(w.length);
      assert.ok(dnnl.forward(g, x, w, y, bias), `${label}: forward ran`);
      assert.ok(dnnl.backwardData(g, dy, w, dx), `${label}: data ran`);
      assert.ok(dnnl.backwardWeights(g, x, dy, dw), `${label}: weights ran`);
      assert.ok(relErr(y, expected[0]) < 1e-5, `${label}: forward`);
      assert.ok(relErr(dx, expected[1]) < 1e-5, `${label}: input gradient`);
      assert.ok(relErr(dw, expected[2]) < 1e-5, `${label}: filter gradient`);
      // A second call reuses the primitives with new data.
      const y2 = new Float32Array(y.length);
      dnnl.forward(g, x.map((v) => 2 * v), w, y2);
      const twice = expected[0].map((v, i) => 2 * (v - bias[i % bias.length]));
      assert.ok(relErr(y2, twice) < 1e-5, `${label}: forward again`);
    }
  },
});

Deno.test({
  name: `oneDNN declines dilated convolutions, which take the BLAS path` +
    skipped,
  ignore,
  fn: () => {
    if (!found.available) return;
    const info = tf.backend_util.computeConv2DInfo(
      [1, 9, 9, 2],
      [3, 3, 2, 3],
      1,
      2,
      "same",
    );
    const g = convGeometry(info)!;
    const y = new Float32Array(1 * 9 * 9 * 3);
    assert.equal(
      found.dnnl.forward(g, new Float32Array(162), new Float32Array(54), y),
      false,
    );
  },
});
