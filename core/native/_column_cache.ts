/**
 * Column matrices kept between kernels: the forward convolution gathers
 * im2col(x), and the filter gradient of the same x needs it again (in double
 * backprop, several times). tfjs data are immutable and each has its own
 * dataId object, so (dataId, geometry) names the content exactly.
 *
 * Buffers are recycled: a fresh Float32Array of tens of megabytes costs a
 * page fault per 4 KiB on its first write, which made gathering into it
 * several times slower than gathering into a buffer used before.
 *
 * @module
 */

interface Entry {
  dataId: object;
  key: string;
  /** The whole buffer; `col` is its first `length` floats. */
  buffer: Float32Array;
  col: Float32Array;
}

/**
 * A least-recently-used store of column matrices, whose kept and spare
 * buffers together stay under a byte budget.
 */
export class ColumnCache {
  #entries: Entry[] = [];
  #spare: Float32Array[] = [];
  /** Floats held by entries and spare buffers. */
  #floats = 0;
  readonly #budget: number;
  /** How many lookups found their columns. */
  hits = 0;

  /** Keeps at most `budgetBytes` of buffers; 0 keeps none. */
  constructor(budgetBytes: number) {
    this.#budget = Math.floor(budgetBytes / 4);
  }

  /** True when a column matrix of `length` floats may be kept. */
  fits(length: number): boolean {
    return length <= this.#budget;
  }

  /** The columns stored for (dataId, key), if any. */
  get(dataId: object, key: string): Float32Array | undefined {
    const i = this.#entries.findIndex((e) =>
      e.dataId === dataId && e.key === key
    );
    if (i < 0) return undefined;
    this.hits++;
    const [entry] = this.#entries.splice(i, 1);
    this.#entries.push(entry);
    return entry.col;
  }

  /**
   * A buffer of `length` floats to fill and then {@linkcode put}; its
   * contents are undefined. Entries whose data no longer `live` become
   * spare first; the smallest spare buffer that is long enough is reused;
   * to make room, spare buffers go first, then the oldest entries.
   */
  allocate(
    length: number,
    live: (dataId: object) => boolean = () => true,
  ): Float32Array {
    for (const entry of this.#entries.filter((e) => !live(e.dataId))) {
      this.#release(entry);
    }
    let best = -1;
    this.#spare.forEach((b, i) => {
      if (b.length < length) return;
      if (best < 0 || b.length < this.#spare[best].length) best = i;
    });
    if (best < 0) {
      this.#makeRoom(length);
      return new Float32Array(length);
    }
    const [buffer] = this.#spare.splice(best, 1);
    this.#floats -= buffer.length;
    this.#makeRoom(buffer.length);
    return buffer.subarray(0, length);
  }

  /** Frees spare buffers, then the oldest entries, until `floats` fit. */
  #makeRoom(floats: number): void {
    while (this.#floats + floats > this.#budget && this.#spare.length) {
      this.#floats -= this.#spare.shift()!.length;
    }
    while (this.#floats + floats > this.#budget && this.#entries.length) {
      this.#release(this.#entries[0]);
      this.#floats -= this.#spare.pop()!.length;
    }
  }

  /** Moves an entry's buffer to the spares. */
  #release(entry: Entry): void {
    this.#entries.splice(this.#entries.indexOf(entry), 1);
    this.#spare.push(entry.buffer);
  }

  /** Stores `col`, from {@linkcode allocate}, for (dataId, key). */
  put(dataId: object, key: string, col: Float32Array): void {
    const buffer = new Float32Array(col.buffer as ArrayBuffer);
    this.#entries.push({ dataId, key, buffer, col });
    this.#floats += buffer.length;
  }

  /** Drops everything. */
  clear(): void {
    this.#entries = [];
    this.#spare = [];
    this.#floats = 0;
  }
}
