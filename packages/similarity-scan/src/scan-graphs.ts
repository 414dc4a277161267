import { GraphBuilder } from '@hyperproto/onnx-graph';

/** Opset of every scan graph: Reduce* take their axes as an input from 18 on. */
export const SCAN_OPSET = 18;

/** Added to a tile's own diagonal (i = j) so that a row's cosine with itself never wins a maximum or minimum. */
const SELF_OFFSET = 3;

export interface CosineTileGraph {
  readonly dims: number;
  /** The tile pairs a block of rows with itself, so its main diagonal holds each row with itself. */
  readonly diagonal: boolean;
  /** Histogram bins over [-1, 1] (each cosine's bin index comes back as one byte), or 0 for none. */
  readonly bins: number;
}

/**
 * One tile of the all-pairs scan: `a` [T, D] and `b` [U, D] unit rows give the cosines S = a b^T [T, U], and only
 * reductions leave the graph: per-row and per-column maxima with their positions, the tile's minimum and, when
 * asked, each cosine's histogram bin as a byte.
 */
export function cosineTileModel({ dims, diagonal, bins }: CosineTileGraph): Uint8Array {
  const g = new GraphBuilder(diagonal ? 'cosine_tile_diagonal' : 'cosine_tile');
  const a = g.input('a', 'float32', ['T', dims]);
  const b = g.input('b', 'float32', ['U', dims]);
  const cosines = g.node('Gemm', [a, b], { transB: 1 });
  let forMax = cosines;
  let forMin = cosines;
  if (diagonal) {
    const self = g.node('Mul', [g.node('EyeLike', [cosines]), g.scalar(SELF_OFFSET)]);
    forMax = g.node('Sub', [cosines, self]);
    forMin = g.node('Add', [cosines, self]);
  }
  g.output(g.node('ReduceMax', [forMax, g.ints([1])], { keepdims: 0 }, { outputs: ['row_max'] }), 'float32', ['T']);
  g.output(g.node('ArgMax', [forMax], { axis: 1, keepdims: 0 }, { outputs: ['row_arg'] }), 'int64', ['T']);
  g.output(g.node('ReduceMax', [forMax, g.ints([0])], { keepdims: 0 }, { outputs: ['col_max'] }), 'float32', ['U']);
  g.output(g.node('ArgMax', [forMax], { axis: 0, keepdims: 0 }, { outputs: ['col_arg'] }), 'int64', ['U']);
  g.output(g.node('ReduceMin', [forMin], { keepdims: 0 }, { outputs: ['tile_min'] }), 'float32', []);
  if (bins > 0) {
    const scaled = g.node('Floor', [g.node('Mul', [g.node('Add', [cosines, g.scalar(1)]), g.scalar(bins / 2)])]);
    const clipped = g.node('Clip', [scaled, g.scalar(0), g.scalar(bins - 1)]);
    g.output(g.node('Cast', [clipped], { to: 2 }, { outputs: ['bin'] }), 'uint8', ['T', 'U']);
  }
  return g.toModel({ opset: SCAN_OPSET });
}

/**
 * A stripe of rows `a` [T, D] against every row `b` [C, D]: the `keep` largest cosines of each row with their
 * column indices (int32, ready for Gather). The caller asks for one more than it needs, because a row's cosine
 * with itself is among them and is dropped afterwards.
 *
 * With `group` > 1 the columns come padded to a multiple of it, `bias` holding 0 for real columns and -4 for the
 * padding (added inside the Gemm, so padding never wins). A full TopK over C columns per row costs several times
 * the Gemm, so the columns are cut into groups of `group`: the `keep` groups with the largest maxima hold the
 * `keep` largest values (any group that holds one has a maximum at least that large), and TopK then runs over
 * their keep x group values only.
 */
export function nearestStripeModel(dims: number, keep: number, group = 1): Uint8Array {
  const g = new GraphBuilder('nearest_stripe');
  const a = g.input('a', 'float32', ['T', dims]);
  const b = g.input('b', 'float32', ['C', dims]);
  if (group <= 1) {
    const cosines = g.node('Gemm', [a, b], { transB: 1 });
    const [values, indices] = g.nodeOutputs(
      'TopK',
      [cosines, g.ints([keep])],
      { axis: 1, largest: 1, sorted: 1 },
      { outputs: ['values', 'indices64'] },
    );
    g.output(values!, 'float32', ['T', keep]);
    g.output(g.node('Cast', [indices!], { to: 6 }, { outputs: ['indices'] }), 'int32', ['T', keep]);
    return g.toModel({ opset: SCAN_OPSET });
  }
  const bias = g.input('bias', 'float32', ['C']);
  const cosines = g.node('Gemm', [a, b, bias], { transB: 1 });
  const grouped = g.node('Reshape', [cosines, g.ints([0, -1, group])]); // [T, C / group, group]
  const groupMaxima = g.node('ReduceMax', [grouped, g.ints([2])], { keepdims: 0 });
  const [, groups] = g.nodeOutputs(
    'TopK',
    [groupMaxima, g.ints([keep])],
    { axis: 1, largest: 1, sorted: 0 },
    { outputs: ['group_values', 'groups'] },
  );
  const candidates = g.node('GatherND', [grouped, g.node('Unsqueeze', [groups!, g.ints([2])])], { batch_dims: 1 }); // [T, keep, group]
  const flat = g.node('Reshape', [candidates, g.ints([0, -1])]);
  const [values, positions] = g.nodeOutputs(
    'TopK',
    [flat, g.ints([keep])],
    { axis: 1, largest: 1, sorted: 1 },
    { outputs: ['values', 'positions'] },
  );
  const groupSize = g.initializer('group_size', BigInt64Array.of(BigInt(group)), []);
  const groupOf = g.node('GatherElements', [groups!, g.node('Div', [positions!, groupSize])], { axis: 1 });
  const column = g.node('Add', [g.node('Mul', [groupOf, groupSize]), g.node('Mod', [positions!, groupSize])]);
  g.output(values!, 'float32', ['T', keep]);
  g.output(g.node('Cast', [column], { to: 6 }, { outputs: ['indices'] }), 'int32', ['T', keep]);
  return g.toModel({ opset: SCAN_OPSET });
}
