/**
 * Column matrices kept between kernels: the forward convolution gathers
 * im2col(x), and the filter gradient of the same x needs it again (in double
 * backprop, several times). tfjs data are immutable and each has its own
 * dataId object, so (dataId, geometry) names the content exactly.
 *
 * @module
 */

/** Evicted buffers kept for reuse. */
const SPARE = 4;

interface Entry {
  dataId: object;
  key: string;
  col: Float32Array;
}

/** A least-recently-used store of column matrices under a byte budget. */
export class ColumnCache {
  #entries: Entry[] = [];
  #spare: Float32Array[] = [];
  #floats = 0;
  readonly #budget: number;
  /** How many lookups found their columns. */
  hits = 0;

  /** Keeps at most `budgetBytes` of columns; 0 keeps none. */
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
   * A buffer of `length` floats to fill and then {@linkcode put}. Entries
   * whose data no longer `live` go first, then the oldest as needed to make
   * room; their buffers are reused when one has this length.
   */
  allocate(
    length: number,
    live: (dataId: object) => boolean = () => true,
  ): Float32Array {
    for (const entry of this.#entries.filter((e) => !live(e.dataId))) {
      this.#evict(entry);
    }
    while (this.#floats + length > this.#budget && this.#entries.length) {
      this.#evict(this.#entries[0]);
    }
    const i = this.#spare.findIndex((b) => b.length === length);
    const col = i >= 0 ? this.#spare.splice(i, 1)[0] : new Float32Array(length);
    this.#spare.splice(0, this.#spare.length - SPARE);
    return col;
  }

  #evict(entry: Entry): void {
    this.#entries.splice(this.#entries.indexOf(entry), 1);
    this.#floats -= entry.col.length;
    this.#spare.push(entry.col);
  }

  /** Stores `col`, from {@linkcode allocate}, for (dataId, key). */
  put(dataId: object, key: string, col: Float32Array): void {
    this.#entries.push({ dataId, key, col });
    this.#floats += col.length;
  }

  /** Drops everything. */
  clear(): void {
    this.#entries = [];
    this.#spare = [];
    this.#floats = 0;
  }
}
