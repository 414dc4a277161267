import type { RowPlacement } from './feature-table.js';
import type { WorkPacer } from './work-pacer.js';

// About 4 MiB per block: growing by blocks never copies what was read, and blocks are dropped as they are placed.
const BLOCK_VALUES = 1 << 20;

/**
 * Rows of a text file, parsed to float32 while the file streams in, before their split is known. Kept in
 * fixed-size blocks so that the data is never copied to grow, and each block is released once its rows
 * have been copied to their split: the peak stays near one copy of the data.
 */
export class RowBlocks {
  readonly rowsPerBlock: number;
  private readonly blocks: (Float32Array | undefined)[] = [];
  private rowCount = 0;
  /** The block the last `append` returned an offset into. */
  current: Float32Array = new Float32Array(0);

  constructor(readonly cols: number) {
    this.rowsPerBlock = Math.max(1, Math.floor(BLOCK_VALUES / Math.max(1, cols)));
  }

  get rows(): number {
    return this.rowCount;
  }

  /** Reserves the next row and returns its offset into `current`; the caller writes `cols` values there. */
  append(): number {
    const inBlock = this.rowCount % this.rowsPerBlock;
    if (inBlock === 0) {
      this.current = new Float32Array(this.rowsPerBlock * this.cols);
      this.blocks.push(this.current);
    }
    this.rowCount++;
    return inBlock * this.cols;
  }

  /** Copies every row to its place and drops each block after it. Call once. */
  async copyInto(placement: RowPlacement, pacer: WorkPacer): Promise<void> {
    const { splitOf, slotOf, outputs } = placement;
    const cols = this.cols;
    for (let b = 0; b < this.blocks.length; b++) {
      const block = this.blocks[b]!;
      this.blocks[b] = undefined;
      const first = b * this.rowsPerBlock;
      const end = Math.min(this.rowCount, first + this.rowsPerBlock);
      for (let row = first; row < end; row++) {
        const from = (row - first) * cols;
        outputs[splitOf[row]!]!.set(block.subarray(from, from + cols), slotOf[row]! * cols);
      }
      pacer.check();
      if (pacer.due()) await pacer.pause();
    }
    this.release();
  }

  release(): void {
    this.blocks.length = 0;
    this.current = new Float32Array(0);
  }
}
