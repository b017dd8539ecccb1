/**
 * The one place fisherlab imports TensorFlow.js from: tfjs with gradients
 * registered and its gradient tape fixed for second derivatives.
 *
 * @module
 */
import { tf, tfl } from "./tf_base.ts";
import { fixTapeOrder } from "./tape_order.ts";

fixTapeOrder();

export { tf, tfl };
export type { LayersModel } from "@tensorflow/tfjs-layers";
