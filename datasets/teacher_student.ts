/**
 * A teacher-student task: a random teacher network labels random Gaussian
 * inputs, so a student of enough capacity can reach zero error and the
 * difficulty is set by the teacher's width.
 *
 * @module
 */
import { Random } from "../core/random.ts";
import { createDataset } from "./create_dataset.ts";
import type { DataSplits } from "./types.ts";

/** Options for {@linkcode teacherStudent}. */
export interface TeacherStudentOptions {
  /** Number of classes. Default: 10. */
  classes?: number;
  /** Input dimension. Default: 20. */
  dim?: number;
  /** Shape of one example instead of [dim], e.g. [8, 8, 1]. */
  shape?: readonly number[];
  /** Hidden units of the teacher. Default: 32. */
  hidden?: number;
  /** Training examples. Default: 1000. */
  size?: number;
  /** Test examples. Default: 1000. */
  testSize?: number;
  /** Seed of the teacher and the inputs. Default: 0. */
  seed?: number;
}

/**
 * Samples x ~ N(0, I) and labels it with a random one-hidden-layer tanh
 * teacher, y = argmax(W2 tanh(W1 x) - b), weights N(0, 1 / fan-in). The
 * offset b is fitted on the training inputs so that every class wins about
 * equally often there (roughly balanced, not exactly).
 *
 * @example Labels from a random teacher
 * ```ts
 * import { teacherStudent } from "./teacher_student.ts";
 * const { train } = teacherStudent({ classes: 4, dim: 8, size: 200 });
 * console.assert(train.numClasses === 4 && train.length === 200);
 * ```
 */
export function teacherStudent(
  options: TeacherStudentOptions = {},
): DataSplits {
  const classes = options.classes ?? 10;
  const shape = [...(options.shape ?? [options.dim ?? 20])];
  const dim = shape.reduce((a, b) => a * b, 1);
  const hidden = options.hidden ?? 32;
  const size = options.size ?? 1000;
  const testSize = options.testSize ?? 1000;
  for (const [what, v] of Object.entries({ classes, dim, hidden, size })) {
    checkPositive(what, v);
  }
  checkPositive("testSize", testSize);
  const rng = new Random(options.seed ?? 0);
  const teacher = makeTeacher(dim, hidden, classes, rng.fork("teacher"));

  const xTrain = gaussian(size * dim, rng.fork("train"));
  const xTest = gaussian(testSize * dim, rng.fork("test"));
  const logitsTrain = teacher(xTrain, size);
  const offset = balancingOffset(logitsTrain, classes);
  const make = (x: Float32Array, logits: Float64Array, part: string) =>
    createDataset(x, argmax(logits, classes, offset), {
      shape,
      numClasses: classes,
      name: `teacher-student/${part}`,
    });
  return {
    train: make(xTrain, logitsTrain, "train"),
    test: make(xTest, teacher(xTest, testSize), "test"),
  };
}

type Teacher = (x: Float32Array, n: number) => Float64Array;

function makeTeacher(
  dim: number,
  hidden: number,
  classes: number,
  rng: Random,
): Teacher {
  const w1 = gaussian(dim * hidden, rng, 1 / Math.sqrt(dim));
  const w2 = gaussian(hidden * classes, rng, 1 / Math.sqrt(hidden));
  return (x, n) => {
    const logits = new Float64Array(n * classes);
    const h = new Float64Array(hidden);
    for (let i = 0; i < n; i++) {
      h.fill(0);
      for (let d = 0; d < dim; d++) {
        const v = x[i * dim + d];
        for (let j = 0; j < hidden; j++) h[j] += v * w1[d * hidden + j];
      }
      for (let j = 0; j < hidden; j++) {
        const a = Math.tanh(h[j]);
        for (let c = 0; c < classes; c++) {
          logits[i * classes + c] += a * w2[j * classes + c];
        }
      }
    }
    return logits;
  };
}

/**
 * Per-class offsets that make argmax(logits - offset) pick every class about
 * equally often: start at the mean logit, then nudge each class's offset up
 * while it wins too often and down while it wins too rarely.
 */
function balancingOffset(logits: Float64Array, classes: number): Float64Array {
  const n = logits.length / classes;
  const offset = new Float64Array(classes);
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < logits.length; i++) {
    offset[i % classes] += logits[i] / n;
    sum += logits[i];
    squares += logits[i] ** 2;
  }
  const mean = sum / logits.length;
  const scale = Math.sqrt(Math.max(squares / logits.length - mean ** 2, 0));
  const target = n / classes;
  for (let round = 0; round < 100; round++) {
    const counts = new Float64Array(classes);
    for (const y of argmax(logits, classes, offset)) counts[y]++;
    for (let c = 0; c < classes; c++) {
      offset[c] += 0.1 * scale * Math.log((counts[c] + 1) / (target + 1));
    }
  }
  return offset;
}

function argmax(
  logits: Float64Array,
  classes: number,
  offset: Float64Array,
): Int32Array {
  const n = logits.length / classes;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let top = -Infinity;
    for (let c = 0; c < classes; c++) {
      const v = logits[i * classes + c] - offset[c];
      if (v > top) {
        top = v;
        best = c;
      }
    }
    labels[i] = best;
  }
  return labels;
}

function gaussian(n: number, rng: Random, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * rng.normal();
  return out;
}

function checkPositive(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot make a teacher-student task: ${what} is ${value}, need an ` +
        "integer >= 1",
    );
  }
}
