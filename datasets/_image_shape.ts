/**
 * Internal: the check that examples are images.
 *
 * @module
 */

/** Checks that `shape` is [height, width, channels] and returns it. */
export function imageShape(shape: readonly number[], what: string): number[] {
  if (shape.length !== 3) {
    throw new RangeError(
      `Cannot ${what} examples of shape [${shape}]: need images of shape ` +
        "[height, width, channels]",
    );
  }
  return [...shape];
}
