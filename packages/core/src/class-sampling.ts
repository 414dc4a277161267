import { z } from 'zod';
import { ErrorCode, HyperprotoError } from './errors.js';
import { foldHeadExpr, type HeadDefinition, type HeadExpr } from './head-graph.js';
import { headParamSpec } from './head-params.js';
import type { Rng } from './rng.js';

/**
 * Sampled softmax (Partial FC, An et al. 2021): a training step's loss sees the batch's classes plus a seeded
 * uniform share of the others, through `sampledRows` and `sampledLabels` in the head's expressions; validation,
 * test and export see every class. This module is the one place that says how many classes a step samples and
 * which: both engines draw their samples here, from the run's 'class-sample' stream, so a seed gives both the same.
 */

/**
 * The `sampledShare` option of a head that can train on a class sample: the share of the classes a training step's
 * loss sees, in (0, 1]; 1 (the default) trains on every class. A value outside is refused with the value named.
 */
const outsideShare = (issue: { input?: unknown }) =>
  `the share of the classes a training step sees must be in (0, 1], got ${String(issue.input)}`;
// Bounds as checks, not a refinement: the schema then states them (`hyperproto plugins` lists `number in (0, 1]`).
export const sampledShareOption = z.number().gt(0, { error: outsideShare }).lte(1, { error: outsideShare }).default(1);

/** A share of the classes in (0, 1], checked; anything else is refused naming `what` and the value. */
export function checkSampledShare(share: unknown, what = 'the head'): number {
  if (typeof share !== 'number' || !(share > 0 && share <= 1)) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `${what} asks for a sampled share of ${String(share)}, which is outside (0, 1]`, {
      hint: 'Give the share of the classes each training step sees, e.g. 0.1; 1 trains on every class.',
    });
  }
  return share;
}

/**
 * How many classes each training step samples: ceil(share * C), raised to the batch size where that is larger
 * (every label of a batch must be among its classes), at most C. Fixed for a run, so that an engine can lay out
 * samples of one size.
 */
export function sampledClassCount(classes: number, share: number, batchSize: number): number {
  checkSampledShare(share);
  return Math.min(classes, Math.max(Math.ceil(share * classes), batchSize));
}

/** Whether an expression reads the sampled classes (`sampledRows` or `sampledLabels`). */
export function usesClassSample(expr: HeadExpr): boolean {
  let found = false;
  foldHeadExpr(expr, (node) => {
    if (node.op === 'sampledRows' || node.op === 'sampledLabels') found = true;
  });
  return found;
}

/**
 * The classes per training step for a head on `classes` classes and batches of `batchSize` rows, or undefined
 * when its steps see every class: a share of 1 (or none), a loss that reads no sample, or a sample as large as C.
 * A share outside (0, 1] and a sampled matrix whose rows are not the classes are refused, naming them.
 */
export function headClassSampleSize(
  head: Pick<HeadDefinition, 'loss' | 'constants' | 'sampledShare'>,
  classes: number,
  batchSize: number,
): number | undefined {
  if (head.sampledShare === undefined) return undefined;
  const share = checkSampledShare(head.sampledShare);
  if (share === 1 || !usesClassSample(head.loss)) return undefined;
  foldHeadExpr(head.loss, (node) => {
    if (node.op !== 'sampledRows') return;
    const x = node.x;
    const rows = x.op === 'param' ? headParamSpec(x).shape[0] : x.op === 'constant' ? head.constants[x.name]?.rows : undefined;
    if (rows !== undefined && rows !== classes) {
      const name = x.op === 'param' || x.op === 'constant' ? `${x.op === 'param' ? 'parameter' : 'constant'} "${x.name}"` : 'a matrix';
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `the head samples rows of ${name}, which has ${rows} rows for ${classes} classes; sampled rows are one per class`,
      );
    }
  });
  const size = sampledClassCount(classes, share, batchSize);
  return size < classes ? size : undefined;
}

/**
 * The parameters a loss reads only through `sampledRows(param)`: a training step changes only their sampled rows,
 * so an engine may update just those rows and their optimizer state (lazy Adam).
 */
export function rowSampledParams(loss: HeadExpr): Set<string> {
  const sampled = new Set<string>();
  const elsewhere = new Set<string>();
  foldHeadExpr(loss, (node) => {
    for (const child of Object.values(node)) {
      if (typeof child !== 'object' || child === null || (child as HeadExpr).op !== 'param') continue;
      const name = (child as { name: string }).name;
      (node.op === 'sampledRows' ? sampled : elsewhere).add(name);
    }
  });
  return new Set([...sampled].filter((name) => !elsewhere.has(name)));
}

/**
 * Draws each batch's classes: the batch's distinct labels first (in order of first appearance), then classes
 * drawn uniformly without replacement from the others up to the sample size. A partial Fisher-Yates shuffle of a
 * permutation kept between draws, so a draw costs O(batch + sample), not O(C); the same generator state gives the
 * same samples.
 */
export class ClassSampler {
  private readonly order: Int32Array;
  /** Where each class sits in `order`. */
  private readonly where: Int32Array;

  constructor(
    readonly classes: number,
    /** Classes per sample (see `sampledClassCount`). */
    readonly size: number,
    private readonly rng: Rng,
  ) {
    if (!Number.isInteger(size) || size < 1 || size > classes) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `a class sample of ${size} out of ${classes} classes`);
    }
    this.order = Int32Array.from({ length: classes }, (_, i) => i);
    this.where = Int32Array.from({ length: classes }, (_, i) => i);
  }

  /**
   * The sample of one batch: its `size` classes into `classes` and each label's position among them into
   * `positions`, from `offset` (in classes and in positions: the batch's place in a run of several).
   */
  draw(labels: ArrayLike<number>, classes: Int32Array, positions: Int32Array, classOffset = 0, positionOffset = 0): void {
    const { order, where, size } = this;
    let taken = 0;
    const swap = (i: number, j: number) => {
      const a = order[i]!;
      const b = order[j]!;
      order[i] = b;
      order[j] = a;
      where[b] = i;
      where[a] = j;
    };
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (!(Number.isInteger(label) && label >= 0 && label < this.classes)) {
        throw new HyperprotoError(ErrorCode.InvalidInput, `label ${label} is out of range for ${this.classes} classes`);
      }
      // A label met before in this batch already sits among the first `taken`.
      if (where[label]! >= taken) {
        if (taken === size) {
          throw new HyperprotoError(ErrorCode.InvalidInput, `a batch has more than ${size} distinct labels, the class sample's size`);
        }
        swap(taken++, where[label]!);
      }
      positions[positionOffset + i] = where[label]!;
    }
    for (; taken < size; taken++) swap(taken, taken + this.rng.int(this.classes - taken));
    classes.set(order.subarray(0, size), classOffset);
  }
}
