/**
 * Gradient checks for the tests: first derivatives, Hessian-vector products
 * and the gradient of ||grad L||^2, each against central finite differences
 * along seeded random directions, with a guard against crossing a ReLU or
 * max-pool kink inside the difference step.
 *
 * @module
 */
import { tf } from "../tf.ts";
import {
  crossEntropy,
  dotAll,
  hessianVectorProduct,
  squaredNorm,
  trainableParams,
  valueAndGrads,
} from "../functional.ts";
import type { Fixture } from "./_layer_cases.ts";
import { flat, normals, relErr, relErrScalar } from "./_test_util.ts";

/** What one check of one model on one backend found. */
export interface GradCheck {
  /** Relative error of grad . v against its central difference. */
  firstOrder: number;
  /** Relative error (vector norm) of H v against differences of gradients. */
  hvp: number;
  /** Relative error of grad ||g||^2 . w against its central difference. */
  gradNorm: number;
  /** False when a kink lay inside a difference step (the FD is invalid). */
  smooth: boolean;
  /** The exact values, for comparing backends. */
  grads: Float32Array;
  hv: Float32Array;
  gradNormGrad: Float32Array;
}

/**
 * Finite-difference steps tried in turn: the first that crosses no kink is
 * used. Smaller steps cost float32 precision, about 1e-7 / step relative.
 */
export const STEPS: readonly number[] = [1e-3, 3e-4, 1e-4];

/**
 * Runs every check on `fx` on the active backend with the largest of
 * {@linkcode STEPS} that crosses no kink (the last one if all do; `smooth`
 * then says so).
 */
export async function checkGradients(
  fx: Fixture,
  seed: number,
): Promise<GradCheck & { eps: number }> {
  let result: GradCheck | undefined;
  for (const eps of STEPS) {
    result = await checkAt(fx, seed, eps);
    if (result.smooth) return { ...result, eps };
  }
  return { ...result!, eps: STEPS[STEPS.length - 1] };
}

async function checkAt(
  fx: Fixture,
  seed: number,
  eps: number,
): Promise<GradCheck> {
  const params = trainableParams(fx.model);
  const loss = () =>
    crossEntropy(
      fx.model.apply(fx.x, { training: true }) as tf.Tensor,
      fx.y,
    ) as tf.Scalar;
  const gradsOf = () => tf.tidy(() => valueAndGrads(loss, params).grads);
  const normOf = () =>
    tf.tidy(() => squaredNorm(valueAndGrads(loss, params).grads));
  const v = params.map((p, i) => tf.tensor(normals(p.size, seed + i), p.shape));
  const w = params.map((p, i) =>
    tf.tensor(normals(p.size, seed + 500 + i), p.shape)
  );
  const origin = params.map((p) => tf.clone(p));
  const at = async <T>(dir: tf.Tensor[], step: number, fn: () => T) => {
    params.forEach((p, i) => {
      const moved = tf.tidy(() => tf.add(origin[i], tf.mul(dir[i], step)));
      p.assign(moved);
      moved.dispose();
    });
    try {
      return await fn();
    } finally {
      params.forEach((p, i) => p.assign(origin[i]));
    }
  };

  const kinks = await fx.kinks();
  let smooth = true;
  for (const dir of [v, w]) {
    for (const step of [eps, -eps]) {
      if ((await at(dir, step, fx.kinks)) !== kinks) smooth = false;
    }
  }

  const grads = gradsOf();
  const g = await flat(grads);
  const vs = await flat(v);
  const ws = await flat(w);
  const value = async () => {
    const l = tf.tidy(loss);
    const out = (await l.data())[0];
    l.dispose();
    return out;
  };
  const lPlus = await at(v, eps, value);
  const lMinus = await at(v, -eps, value);
  const firstOrder = relErrScalar(dot(g, vs), (lPlus - lMinus) / (2 * eps));

  const hvT = hessianVectorProduct(loss, params, v);
  const hv = await flat(hvT);
  const gPlus = await at(v, eps, () => flatDispose(gradsOf()));
  const gMinus = await at(v, -eps, () => flatDispose(gradsOf()));
  const fdHv = gPlus.map((p, i) => (p - gMinus[i]) / (2 * eps));
  const hvp = relErr(hv, fdHv);

  const gradNormGradT = tf.tidy(() => valueAndGrads(normOf, params).grads);
  const gradNormGrad = await flat(gradNormGradT);
  const rPlus = await at(w, eps, () => flatDispose([normOf()]));
  const rMinus = await at(w, -eps, () => flatDispose([normOf()]));
  const gradNorm = relErrScalar(
    dot(gradNormGrad, ws),
    (rPlus[0] - rMinus[0]) / (2 * eps),
  );

  tf.dispose([...v, ...w, ...origin, ...grads, ...hvT, ...gradNormGradT]);
  return { firstOrder, hvp, gradNorm, smooth, grads: g, hv, gradNormGrad };
}

async function flatDispose(ts: tf.Tensor[]): Promise<Float32Array> {
  const out = await flat(ts);
  tf.dispose(ts);
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Third order: the gradient of T = <w, H v> (itself a double backprop)
 * along u, against central differences of T, with the first of
 * {@linkcode STEPS} that crosses no kink. Returns the relative error and
 * whether the step was smooth.
 */
export async function checkThirdOrder(
  fx: Fixture,
  seed: number,
): Promise<{ err: number; smooth: boolean; eps: number }> {
  const params = trainableParams(fx.model);
  const loss = () =>
    crossEntropy(
      fx.model.apply(fx.x, { training: true }) as tf.Scalar,
      fx.y,
    ) as tf.Scalar;
  const dirs = (offset: number) =>
    params.map((p, i) =>
      tf.tensor(normals(p.size, seed + offset + i), p.shape)
    );
  const [u, v, w] = [dirs(0), dirs(100), dirs(200)];
  const t = () =>
    tf.tidy(() => dotAll(hessianVectorProduct(loss, params, v), w));
  const origin = params.map((p) => tf.clone(p));
  const at = async <T>(step: number, fn: () => T) => {
    params.forEach((p, i) => {
      const moved = tf.tidy(() => tf.add(origin[i], tf.mul(u[i], step)));
      p.assign(moved);
      moved.dispose();
    });
    try {
      return await fn();
    } finally {
      params.forEach((p, i) => p.assign(origin[i]));
    }
  };
  const scalar = async (s: tf.Scalar) => {
    const out = (await s.data())[0];
    s.dispose();
    return out;
  };
  const grads = tf.tidy(() => valueAndGrads(t, params).grads);
  const exact = await scalar(dotAll(grads, u));
  const kinks = await fx.kinks();
  let result = { err: Infinity, smooth: false, eps: STEPS[0] };
  for (const eps of STEPS) {
    const smooth = (await at(eps, fx.kinks)) === kinks &&
      (await at(-eps, fx.kinks)) === kinks;
    const fd = ((await at(eps, () => scalar(t()))) -
      (await at(-eps, () => scalar(t())))) / (2 * eps);
    result = { err: relErrScalar(exact, fd), smooth, eps };
    if (smooth) break;
  }
  tf.dispose([...u, ...v, ...w, ...origin, ...grads]);
  return result;
}
