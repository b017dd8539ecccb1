/**
 * Routing a tfjs-layers layer class's `call` through a fused kernel: the
 * one place fisherlab replaces a layer's code, for batch norm in training
 * mode and for dense layers.
 *
 * @module
 */
import type { Tensor } from "@tensorflow/tfjs-core";

/** What a fast path gets: the layer, its one input, and the call's arguments. */
export type FastCall<L> = (
  layer: L,
  input: Tensor,
  kwargs: Record<string, unknown>,
) => Tensor | undefined;

type Call<L> = (
  this: L,
  inputs: Tensor | Tensor[],
  kwargs: Record<string, unknown>,
) => Tensor | Tensor[];

/**
 * Makes every layer of `sample`'s class try `fast` first: a call with one
 * input tensor runs `fast(layer, input, kwargs)`, and the layer's own
 * `call` runs when that returns undefined (or for several inputs).
 * Idempotent for a given `marker`.
 */
export function routeLayerCall<L>(
  sample: object,
  marker: symbol,
  fast: FastCall<L>,
): void {
  const proto = Object.getPrototypeOf(sample) as {
    call: Call<L>;
    [key: symbol]: unknown;
  };
  if (proto[marker]) return;
  const original = proto.call;
  proto.call = function (inputs, kwargs) {
    const input = Array.isArray(inputs)
      ? (inputs.length === 1 ? inputs[0] : undefined)
      : inputs;
    const out = input === undefined ? undefined : fast(this, input, kwargs);
    return out ?? original.call(this, inputs, kwargs);
  };
  proto[marker] = true;
}
