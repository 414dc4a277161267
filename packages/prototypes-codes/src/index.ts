import {
  createMatrix,
  definePrototypeStrategy,
  prototypeMatrixProblem,
  z,
  type Matrix,
  type PrototypeRequest,
  type PrototypeStrategy,
} from '@hyperproto/core';
import { chooseCode, walkCodewords, type BinaryCode } from './code-choice.js';
import { MAX_FIELD_DEGREE } from './bch-generator.js';

const optionsSchema = z
  .object({
    /** Random sign per coordinate (exact: cosines are unchanged), so that class 0 is not the all-positive vector. */
    rotate: z.boolean().default(true),
  })
  .strict();

export type CodePrototypeOptions = z.output<typeof optionsSchema>;

/** Codewords are enumerated up to 2^24: beyond that the matrix alone passes 64 MB per dimension. */
const MAX_BITS = 24;
const MAX_DIMS = 2 ** MAX_FIELD_DEGREE;

function unsupported({ classes, dims }: PrototypeRequest): string | undefined {
  if (!Number.isInteger(classes) || classes < 2 || !Number.isInteger(dims) || dims < 1) return `needs integers classes >= 2 and dims >= 1`;
  const bits = informationBits(classes);
  if (bits > dims) return `${classes} distinct +-1 vectors need dims >= log2(classes) = ${bits}, got ${dims}`;
  if (bits > MAX_BITS) return `at most 2^${MAX_BITS} = ${2 ** MAX_BITS} classes`;
  if (dims > MAX_DIMS) return `codes go up to ${MAX_DIMS} dimensions (use orthogonal or spread above that)`;
  return prototypeMatrixProblem({ classes, dims });
}

function informationBits(classes: number): number {
  return Math.max(1, Math.ceil(Math.log2(classes)));
}

/** cos = 1 - 2 d / D for codewords at Hamming distance d: the code's minimum distance caps the largest cosine. */
export function largestCosineOfCode(code: Pick<BinaryCode, 'dims' | 'minimumDistance'>): number {
  return 1 - (2 * code.minimumDistance) / code.dims;
}

/** The first C codewords of the chosen code, bit b mapped to (1 - 2b) / sqrt(D) times the coordinate's sign. */
function codewordRows(code: BinaryCode, classes: number, signs: Float32Array): Matrix {
  const { dims } = code;
  const matrix = createMatrix(classes, dims);
  const scale = 1 / Math.sqrt(dims);
  walkCodewords(code.rows, Math.ceil(dims / 32), classes, (word, row) => {
    const start = row * dims;
    for (let t = 0; t < dims; t++) matrix.data[start + t] = ((word[t >>> 5]! >>> (t & 31)) & 1 ? -scale : scale) * signs[t]!;
  });
  return matrix;
}

/** Many well-separated prototypes at once, for C much larger than D. */
export const codePrototypes: PrototypeStrategy<CodePrototypeOptions> = definePrototypeStrategy({
  name: 'codes',
  summary:
    'Binary BCH codewords (shortened, extended, punctured or repeated to length D) mapped to +-1/sqrt(D): largest cosine ' +
    '1 - 2 d/D from the code distance d, in milliseconds. For C much larger than D (e.g. 100,000 in D = 100); needs 2^D >= C',
  options: optionsSchema,
  unsupported,
  // The plugin boundary asks `unsupported` before this runs.
  generate(ctx, request, options) {
    const { classes, dims } = request;
    const code = chooseCode(informationBits(classes), dims);
    ctx.log?.(
      `codes: ${code.description}; minimum distance ${code.minimumDistance}${code.exact ? '' : ' (at least)'}, largest cosine <= ${largestCosineOfCode(code).toFixed(4)}`,
    );
    const signs = new Float32Array(dims).fill(1);
    if (options.rotate) for (let t = 0; t < dims; t++) if (ctx.rng.float() < 0.5) signs[t] = -1;
    return codewordRows(code, classes, signs);
  },
});

export default codePrototypes;
