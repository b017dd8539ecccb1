/**
 * Makes tfjs's gradient tape correct for second derivatives of kernels that
 * save their own output (Exp, Tanh, Sigmoid, Softmax, Sqrt, ...).
 *
 * When the tape is on, tfjs clones each tensor a gradient needs and records
 * the clone as an Identity node. For a saved output, that clone node is
 * pushed before the node of the kernel that made the output, so a walk of
 * the tape in order finds the clone's input not yet connected to anything
 * and drops it: the second derivative then treats the saved output as a
 * constant, and Hessian-vector products through such kernels come out wrong
 * without any error. The fix moves those clone nodes after their kernel's
 * node as it is recorded.
 *
 * @module
 */
import { tf } from "./tf_base.ts";

interface TapeNode {
  inputs: Record<string, { id: number }>;
  outputs: { id: number }[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null };
  addTapeNode: (...args: unknown[]) => void;
  __fisherlabTapeOrder?: boolean;
}

/** Installs the fix on tfjs's engine; calling it again does nothing. */
export function fixTapeOrder(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.__fisherlabTapeOrder) return;
  const record = engine.addTapeNode.bind(engine);
  engine.addTapeNode = (...args: unknown[]) => {
    record(...args);
    const tape = engine.state.activeTape;
    if (!tape || tape.length < 2) return;
    const node = tape[tape.length - 1];
    const made = new Set(node.outputs.map((t) => t.id));
    let first = tape.length - 1;
    while (first > 0 && isCloneOf(tape[first - 1], made)) first--;
    if (first === tape.length - 1) return;
    const clones = tape.splice(first, tape.length - 1 - first);
    tape.push(...clones);
  };
  engine.__fisherlabTapeOrder = true;
}

function isCloneOf(node: TapeNode, made: Set<number>): boolean {
  const inputs = Object.values(node.inputs);
  return inputs.length === 1 && node.outputs.length === 1 &&
    made.has(inputs[0].id);
}
