/**
 * Structural checks of an ONNX model, made on the decoded protobuf without
 * any runtime: what every ONNX consumer may rely on.
 *
 * @module
 */
import { FLOAT, type IModelProto, INT64, onnx } from "./_proto.ts";

const BYTES_PER_ELEMENT: Record<number, number> = { [FLOAT]: 4, [INT64]: 8 };

function checkHeader(model: IModelProto, problems: string[]): void {
  if (!model.irVersion || Number(model.irVersion) < 7) {
    problems.push(`ir_version is "${model.irVersion ?? "unset"}", not >= 7`);
  }
  const main = (model.opsetImport ?? []).find((o) =>
    !o.domain || o.domain === "ai.onnx"
  );
  if (!main) problems.push("no opset_import for the default domain");
  else if (Number(main.version) < 13) {
    problems.push(`opset is "${main.version}", not >= 13`);
  }
}

function checkIo(model: IModelProto, problems: string[]): void {
  const graph = model.graph!;
  const io = [...graph.input ?? [], ...graph.output ?? []];
  for (const v of io) {
    const tensor = v.type?.tensorType;
    if (!v.name) problems.push("a graph input or output has no name");
    if (!tensor?.elemType) {
      problems.push(`"${v.name}" has no tensor element type`);
      continue;
    }
    const dims = tensor.shape?.dim;
    if (!dims) problems.push(`"${v.name}" has no shape`);
    for (const d of dims ?? []) {
      if (!d.dimParam && !(Number(d.dimValue) > 0)) {
        problems.push(`"${v.name}" has a dimension without size or name`);
      }
    }
  }
}

function checkInitializers(
  model: IModelProto,
  defined: Set<string>,
  problems: string[],
): void {
  const seen = new Set<string>();
  for (const t of model.graph!.initializer ?? []) {
    if (!t.name) problems.push("an initializer has no name");
    else if (seen.has(t.name)) {
      problems.push(`initializer "${t.name}" is defined twice`);
    }
    seen.add(t.name ?? "");
    // An initializer may share a graph input's name (its default value).
    defined.add(t.name ?? "");
    const count = (t.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
    const size = BYTES_PER_ELEMENT[t.dataType ?? 0];
    const stored = t.rawData?.length
      ? t.rawData.length / (size ?? 1)
      : (t.floatData?.length ?? 0) + (t.int64Data?.length ?? 0);
    if (stored !== count) {
      problems.push(
        `initializer "${t.name}" holds ${stored} values, its dims ${count}`,
      );
    }
  }
}

function checkNodes(
  model: IModelProto,
  defined: Set<string>,
  problems: string[],
): void {
  for (const node of model.graph!.node ?? []) {
    if (!node.opType) problems.push(`node "${node.name}" has no op_type`);
    for (const input of node.input ?? []) {
      if (input && !defined.has(input)) {
        problems.push(
          `node "${node.name}" reads "${input}" before it is defined`,
        );
      }
    }
    for (const output of node.output ?? []) {
      if (defined.has(output)) {
        problems.push(`"${output}" is assigned more than once`);
      }
      defined.add(output);
    }
  }
  for (const output of model.graph!.output ?? []) {
    if (!defined.has(output.name ?? "")) {
      problems.push(`graph output "${output.name}" is never computed`);
    }
  }
}

/**
 * Lists what is wrong with an ONNX model: ir_version and a default-domain
 * opset >= 13 declared, typed and shaped inputs and outputs, uniquely named
 * initializers whose data match their dims, nodes in topological order
 * (each input defined before use, each value assigned once), and every
 * graph output computed. An empty list means the model passed.
 *
 * @example Check an exported model
 * ```ts
 * import { tfl } from "../core/tf.ts";
 * import { toOnnx } from "./convert.ts";
 * import { checkOnnx } from "./check.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 2, inputShape: [3] })],
 * });
 * console.assert(checkOnnx(toOnnx(model)).length === 0);
 * ```
 */
export function checkOnnx(bytes: Uint8Array): string[] {
  let model: IModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    return [`the bytes are not an ONNX ModelProto: ${error}`];
  }
  const problems: string[] = [];
  checkHeader(model, problems);
  if (!model.graph) return [...problems, "the model has no graph"];
  checkIo(model, problems);
  const defined = new Set<string>();
  for (const v of model.graph.input ?? []) defined.add(v.name ?? "");
  checkInitializers(model, defined, problems);
  checkNodes(model, defined, problems);
  return problems;
}
