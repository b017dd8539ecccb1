import assert from "node:assert/strict";
import { tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { type IModelProto, onnx } from "./_proto.ts";
import { checkOnnx } from "./check.ts";
import { toOnnx } from "./convert.ts";
import { randomizeWeights } from "./_testing.ts";

await useBackend("cpu");

const L = tfl.layers;

function convNet() {
  const input = tfl.input({ shape: [6, 6, 2] });
  const a = L.conv2d({ filters: 2, kernelSize: 3, padding: "same" })
    .apply(input) as tfl.SymbolicTensor;
  const b = L.batchNormalization({}).apply(a) as tfl.SymbolicTensor;
  const sum = L.add({}).apply([a, b]) as tfl.SymbolicTensor;
  const pad = L.zeroPadding2d({ padding: 1 }).apply(sum) as tfl.SymbolicTensor;
  const flat = L.flatten().apply(pad) as tfl.SymbolicTensor;
  const out = L.dense({ units: 3 }).apply(flat) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  randomizeWeights(model);
  return model;
}

/** The decoded export, as a plain object that tests may break. */
function decoded(): IModelProto {
  const bytes = toOnnx(convNet(), { inputLayout: "nchw" });
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), {
    longs: Number,
    bytes: Array,
  }) as IModelProto;
}

function encode(model: IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
}

Deno.test("checkOnnx() passes an exported model", () => {
  assert.deepEqual(checkOnnx(encode(decoded())), []);
});

Deno.test("exported models hold the ONNX invariants, read directly", () => {
  const model = decoded();
  const graph = model.graph!;
  assert.equal(model.irVersion, 8);
  assert.deepEqual(model.opsetImport, [{ domain: "", version: 13 }]);

  // Topological order: every input is defined before the node reading it.
  const defined = new Set(graph.input!.map((v) => v.name));
  const inits = graph.initializer!.map((t) => t.name);
  assert.equal(new Set(inits).size, inits.length);
  inits.forEach((n) => defined.add(n));
  for (const node of graph.node!) {
    for (const i of node.input!) assert.ok(defined.has(i), `${i} undefined`);
    for (const o of node.output!) defined.add(o);
  }
  // Every initializer is used.
  const used = new Set(graph.node!.flatMap((n) => n.input));
  for (const n of inits) assert.ok(used.has(n), `${n} unused`);
  // Typed, shaped, batch symbolic.
  for (const v of [...graph.input!, ...graph.output!]) {
    const t = v.type!.tensorType!;
    assert.equal(t.elemType, 1);
    assert.equal(t.shape!.dim![0].dimParam, "batch");
    for (const d of t.shape!.dim!.slice(1)) assert.ok(Number(d.dimValue) > 0);
  }
});

const BREAKS: Record<string, [(m: IModelProto) => void, RegExp]> = {
  "nodes out of order": [
    (m) => m.graph!.node!.reverse(),
    /reads ".*" before it is defined/,
  ],
  "a duplicate initializer": [
    (m) => m.graph!.initializer!.push(m.graph!.initializer![0]),
    /is defined twice/,
  ],
  "initializer data that do not match its dims": [
    (m) => {
      m.graph!.initializer![0].dims = [1000];
    },
    /holds \d+ values, its dims 1000/,
  ],
  "no ir_version": [(m) => delete m.irVersion, /ir_version/],
  "an old opset": [
    (m) => {
      m.opsetImport = [{ domain: "", version: 9 }];
    },
    /opset is "9"/,
  ],
  "an untyped input": [
    (m) => delete m.graph!.input![0].type,
    /has no tensor element type/,
  ],
  "an output nobody computes": [
    (m) => {
      m.graph!.output![0].name = "nowhere";
    },
    /"nowhere" is never computed/,
  ],
  "a value assigned twice": [
    (m) => m.graph!.node!.push(m.graph!.node!.at(-1)!),
    /assigned more than once/,
  ],
};

for (const [what, [breakIt, message]] of Object.entries(BREAKS)) {
  Deno.test(`checkOnnx() reports ${what}`, () => {
    const model = decoded();
    breakIt(model);
    const problems = checkOnnx(encode(model));
    assert.ok(
      problems.some((p) => message.test(p)),
      `expected ${message} in ${JSON.stringify(problems)}`,
    );
  });
}

Deno.test("checkOnnx() reports bytes that are not a model", () => {
  const problems = checkOnnx(new Uint8Array([0xff, 0xff, 0xff]));
  assert.match(problems[0], /not an ONNX ModelProto/);
});
