import { createMatrix, defineHead, h, z, type HeadDefinition, type HeadExpr, type HeadPlugin } from '@hyperproto/core';
import { describe, it } from 'vitest';
import { conformanceExpectations } from './test-support/conformance-expectations.js';
import { headConformance } from './head-conformance.js';

const { expectAllPass, expectFailure } = conformanceExpectations('head');

const crossEntropy = h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.output()), h.labels())));

const head = (name: string, build: (classes: number) => Partial<HeadDefinition>): HeadPlugin =>
  defineHead({
    name,
    summary: 'test head',
    options: z.strictObject({}),
    usesPrototypes: false,
    build: ({ classes }) => ({
      outputUnits: classes,
      loss: crossEntropy,
      scores: h.softmax(h.output()),
      scoresName: 'probabilities',
      constants: {},
      ...build(classes),
    }),
  });

const softmax = head('softmax-like', () => ({}));

/** Cosine to fixed prototypes, as the hpn head has it. */
const cosine = defineHead({
  name: 'cosine',
  summary: 'test head with prototypes',
  options: z.strictObject({ margin: z.number().default(0) }),
  usesPrototypes: true,
  build: ({ prototypes }) => {
    const unit = h.l2normalize(h.output());
    return {
      outputUnits: prototypes!.cols,
      loss: h.mean(h.pow(h.sub(h.scalar(1), h.rowSum(h.mul(unit, h.gatherRows(h.constant('prototypes'), h.labels())))), 2)),
      scores: h.matmulTransposed(unit, h.constant('prototypes')),
      scoresName: 'scores',
      constants: { prototypes: prototypes! },
    };
  },
});

describe('headConformance', () => {
  it('passes a cross-entropy head and a prototype head (signed axes, and random rows when the axes run out)', async () => {
    await expectAllPass(headConformance(softmax));
    await expectAllPass(headConformance(softmax, { classes: 7 }));
    await expectAllPass(headConformance(cosine));
    await expectAllPass(headConformance(cosine, { classes: 9, dims: 3, options: { margin: 0.5 } }));
    const given = createMatrix(4, 2, Float32Array.of(1, 0, 0, 1, -1, 0, 0, -1));
    await expectAllPass(headConformance(cosine, { prototypes: given }));
  });

  it('fails a head whose scores disagree with its loss', async () => {
    const inverted = head('inverted', () => ({ scores: h.softmax(h.neg(h.output())) }));
    await expectFailure(
      headConformance(inverted),
      /gradient descent/,
      /after gradient descent on the output \(\d+ of at most 40 steps, loss .* -> .*\), argmax\(scores\) is \[.*\] for labels \[.*\]; expected the scores to rank first .*\(loss and scores disagree\)/,
    );
  });

  it('fails a loss that cannot be lowered by moving the output', async () => {
    const flat = head('flat', () => ({ loss: h.mean(h.mul(h.output(), h.scalar(0))) }));
    await expectFailure(
      headConformance(flat),
      /gradient descent/,
      /gradient descent on the output \(0 of at most 40 steps, loss 0\.00000 -> 0\.00000\) did not lower the loss; expected a loss that depends smoothly on the output/,
    );
  });

  it('fails a loss that is not a scalar, or not finite', async () => {
    const perRow = head('per-row', () => ({ loss: h.neg(h.pickPerRow(h.logSoftmax(h.output()), h.labels())) }));
    await expectFailure(headConformance(perRow), /finite scalar loss/, /its loss has shape \[6\]; expected a scalar/);
    const rooted = head('rooted', () => ({ loss: h.mean(h.pow(h.output(), 0.5)) }));
    await expectFailure(headConformance(rooted), /finite scalar loss/, /its loss on random output is NaN; expected a finite number/);
  });

  it('fails a loss that depends on the order of the rows', async () => {
    // Rows weighted by position: fine as a number, wrong as a batch loss.
    const weights = createMatrix(1, 6, Float32Array.of(1, 2, 3, 4, 5, 6));
    const weighted = head('weighted', () => ({
      loss: h.mean(h.mul(h.neg(h.pickPerRow(h.logSoftmax(h.output()), h.labels())), h.constant('w'))),
      constants: { w: weights },
    }));
    await expectFailure(
      headConformance(weighted),
      /another order/,
      /its loss is .* for a batch and .* for the same rows and labels reordered; expected the same loss/,
    );
  });

  it('fails scores of the wrong shape, scores that need labels, a bad width and a bad scoresName', async () => {
    const wide = head('wide', (classes) => ({ outputUnits: classes + 1 }));
    await expectFailure(headConformance(wide), /finite scalar loss/, /its scores have shape \[6, 5\] for 6 rows; expected \[6, 4\]/);
    const peeking = head('peeking', () => ({ scores: h.gatherRows(h.softmax(h.output()), h.labels()) }));
    await expectFailure(
      headConformance(peeking),
      /finite scalar loss/,
      /its scores cannot be evaluated: E_INVALID_INPUT: .*uses labels.*an exported model has no labels/,
    );
    const empty = head('empty', () => ({ outputUnits: 0 }));
    await expectFailure(headConformance(empty), /builds for 4 classes/, /outputUnits is 0; expected a positive integer/);
    const spaced = head('spaced', () => ({ scoresName: 'class scores' }));
    await expectFailure(headConformance(spaced), /builds for 4 classes/, /scoresName is "class scores"; expected an identifier/);
  });

  it('fails a head that uses a constant it does not ship', async () => {
    const forgetful = defineHead({
      ...cosine,
      name: 'forgetful',
      build: (input, options) => ({ ...cosine.build(input, options), constants: {} }),
    });
    await expectFailure(
      headConformance(forgetful),
      /ships every constant/,
      /^head:forgetful: its loss expression uses constant "prototypes", which the head does not provide \(has: none\); expected constants to hold every matrix its loss and scores use$/,
    );
  });

  it('passes a head with a trained parameter, and fails one without a starting value or that the loss ignores', async () => {
    const scaled = head('scaled', () => ({
      loss: h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.mul(h.param('scale', 2), h.output())), h.labels()))),
    }));
    await expectAllPass(headConformance(scaled));
    const unset = head('unset', () => ({
      scores: h.softmax(h.mul({ op: 'param', name: 'temperature' } as unknown as HeadExpr, h.output())),
    }));
    await expectFailure(headConformance(unset), /builds for 4 classes/, /head parameter "temperature" has no initial value/);
    const idle = head('idle', () => ({ scores: h.softmax(h.mul(h.param('temperature', 1), h.output())) }));
    await expectFailure(
      headConformance(idle),
      /parameter at finite values/,
      /with parameter "temperature" at 1 and .* at 1\.5; expected a parameter the loss depends on/,
    );
  });

  it('reports a head that throws while building, and options its schema refuses', async () => {
    const picky = defineHead({
      ...softmax,
      name: 'picky',
      build: () => {
        throw new Error('needs 10 classes');
      },
    });
    await expectFailure(headConformance(picky), /builds for 4 classes/, /build for 4 classes threw needs 10 classes/);
    await expectFailure(
      headConformance(cosine, { options: { margin: 'wide' } }),
      /builds for 4 classes/,
      /its options schema refused \{"margin":"wide"\}/,
    );
  });
});
