/**
 * TensorFlow.js with its gradients and chained methods registered.
 *
 * The tfjs-core bundle registers neither the gradients of its kernels nor the
 * chained tensor methods (`x.sum()`); the umbrella package `@tensorflow/tfjs`
 * does both into tfjs's global registries, so importing it once makes them
 * available to every module. Import `tf.ts`, which also fixes the tape.
 *
 * @module
 */
import "@tensorflow/tfjs";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";

// Library code does not print: PROD silences tfjs's own console warnings
// (such as its advice to install tfjs-node on first use of the cpu backend).
tf.env().set("PROD", true);

export { tf, tfl };
