import { createRng, ErrorCode, type EpochRecord, type Rng } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { classificationMetrics, convergenceMetrics } from './classification-metrics.js';

const i32 = (values: number[]) => Int32Array.from(values);

function randomCase(rng: Rng) {
  const classes = 2 + rng.int(12);
  const rows = 1 + rng.int(200);
  const labels = new Int32Array(rows);
  const predictions = new Int32Array(rows);
  // Mostly-correct predictions, like a real classifier, so that every regime (tp > 0, empty classes) shows up.
  const accuracy = rng.float();
  for (let i = 0; i < rows; i++) {
    labels[i] = rng.int(classes);
    predictions[i] = rng.float() < accuracy ? labels[i]! : rng.int(classes);
  }
  return { classes, labels, predictions };
}

/** F1 from its textbook definition 2PR / (P + R), for comparison with the implementation's 2tp / (2tp + fp + fn). */
function textbookMacroF1(classes: number, labels: Int32Array, predictions: Int32Array): number {
  let sum = 0;
  for (let c = 0; c < classes; c++) {
    let tp = 0;
    let predicted = 0;
    let actual = 0;
    for (let i = 0; i < labels.length; i++) {
      if (predictions[i] === c) predicted++;
      if (labels[i] === c) actual++;
      if (predictions[i] === c && labels[i] === c) tp++;
    }
    const precision = predicted ? tp / predicted : 0;
    const recall = actual ? tp / actual : 0;
    sum += precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  }
  return sum / classes;
}

describe('classificationMetrics', () => {
  it('matches a hand-computed case', () => {
    // row:         0  1  2  3  4  5  6  7  8  9
    // labels:      0  0  0  1  1  2  2  2  2  3
    // predictions: 0  1  0  1  2  2  2  0  2  1
    // class 0: tp 2 (rows 0, 2), fp 1 (row 7), fn 1 (row 1): P 2/3, R 2/3, F1 2/3
    // class 1: tp 1 (row 3), fp 2 (rows 1, 9), fn 1 (row 4): P 1/3, R 1/2, F1 = 2 (1/6) / (5/6) = 0.4
    // class 2: tp 3, fp 1 (row 4), fn 1 (row 7): P 3/4, R 3/4, F1 3/4
    // class 3: never predicted, fn 1 (row 9): P 0, R 0, F1 0
    // macro-F1 = (2/3 + 0.4 + 0.75 + 0) / 4 = 0.4541666...; accuracy 6 / 10
    const metrics = classificationMetrics(4, i32([0, 0, 0, 1, 1, 2, 2, 2, 2, 3]), i32([0, 1, 0, 1, 2, 2, 2, 0, 2, 1]));
    expect(metrics.accuracy).toBeCloseTo(0.6, 12);
    expect(metrics.macroF1).toBeCloseTo(0.45416666666666666, 12);
    const expected = [
      [2 / 3, 2 / 3, 2 / 3, 3],
      [1 / 3, 1 / 2, 0.4, 2],
      [3 / 4, 3 / 4, 3 / 4, 4],
      [0, 0, 0, 1],
    ];
    expect(metrics.perClass).toHaveLength(4);
    metrics.perClass!.forEach((scores, c) => {
      const [precision, recall, f1, support] = expected[c]!;
      expect(scores.class).toBe(c);
      expect(scores.precision).toBeCloseTo(precision!, 12);
      expect(scores.recall).toBeCloseTo(recall!, 12);
      expect(scores.f1).toBeCloseTo(f1!, 12);
      expect(scores.support).toBe(support);
    });
  });

  it('scores a predicted class without support as 0 and still counts it in the mean', () => {
    // labels 0 0 1 1, predictions 0 2 1 1:
    // class 0: P 1, R 1/2, F1 2/3; class 1: F1 1; class 2: no rows, predicted once: P 0, R 0, F1 0.
    // macro-F1 = (2/3 + 1 + 0) / 3 = 5/9; accuracy 3/4.
    const metrics = classificationMetrics(3, i32([0, 0, 1, 1]), i32([0, 2, 1, 1]));
    expect(metrics.accuracy).toBe(0.75);
    expect(metrics.macroF1).toBeCloseTo(5 / 9, 12);
    expect(metrics.perClass![2]).toEqual({ class: 2, precision: 0, recall: 0, f1: 0, support: 0 });
  });

  it('averages over all classes, also those absent from labels and predictions', () => {
    // Classes 0 and 1 are perfect; classes 2..4 never appear, so macro-F1 = 2 / 5.
    expect(classificationMetrics(5, i32([0, 1, 1]), i32([0, 1, 1])).macroF1).toBeCloseTo(0.4, 12);
  });

  it('gives 1 for perfect predictions when every class appears', () => {
    const labels = i32([3, 0, 2, 1, 1, 0, 3, 2]);
    const metrics = classificationMetrics(4, labels, labels.slice());
    expect(metrics.accuracy).toBe(1);
    expect(metrics.macroF1).toBe(1);
    expect(metrics.perClass!.every((s) => s.precision === 1 && s.recall === 1 && s.f1 === 1)).toBe(true);
  });

  it('gives 0 when every prediction is wrong', () => {
    const metrics = classificationMetrics(2, i32([0, 1, 0, 1]), i32([1, 0, 1, 0]));
    expect(metrics.accuracy).toBe(0);
    expect(metrics.macroF1).toBe(0);
  });

  it('leaves out the per-class list when asked', () => {
    const metrics = classificationMetrics(2, i32([0, 1]), i32([0, 0]), { perClass: false });
    expect(metrics).not.toHaveProperty('perClass');
    expect(Object.keys(metrics).sort()).toEqual(['accuracy', 'macroF1']);
  });

  it('has properties that hold on random cases', () => {
    const rng = createRng(2024);
    for (let trial = 0; trial < 200; trial++) {
      const { classes, labels, predictions } = randomCase(rng);
      const metrics = classificationMetrics(classes, labels, predictions);
      const context = `trial ${trial}`;

      // Scores are fractions, and the implementation agrees with the textbook definition.
      expect(metrics.accuracy, context).toBeGreaterThanOrEqual(0);
      expect(metrics.accuracy, context).toBeLessThanOrEqual(1);
      expect(metrics.macroF1, context).toBeGreaterThanOrEqual(0);
      expect(metrics.macroF1, context).toBeLessThanOrEqual(1);
      expect(metrics.macroF1, context).toBeCloseTo(textbookMacroF1(classes, labels, predictions), 12);

      // Per-class entries add up: supports sum to the rows, recall x support sums to the correct rows,
      // and their F1 mean is the macro-F1.
      const perClass = metrics.perClass!;
      expect(
        perClass.reduce((sum, s) => sum + s.support, 0),
        context,
      ).toBe(labels.length);
      expect(
        perClass.reduce((sum, s) => sum + s.recall * s.support, 0),
        context,
      ).toBeCloseTo(metrics.accuracy * labels.length, 9);
      expect(perClass.reduce((sum, s) => sum + s.f1, 0) / classes, context).toBeCloseTo(metrics.macroF1, 12);
      for (const value of perClass.flatMap((s) => [s.precision, s.recall, s.f1])) {
        expect(value, context).toBeGreaterThanOrEqual(0);
        expect(value, context).toBeLessThanOrEqual(1);
      }

      // Shuffling the rows changes nothing.
      const order = rng.shuffle(Array.from({ length: labels.length }, (_, i) => i));
      const shuffled = classificationMetrics(classes, i32(order.map((i) => labels[i]!)), i32(order.map((i) => predictions[i]!)));
      expect(shuffled.accuracy, context).toBe(metrics.accuracy);
      expect(shuffled.macroF1, context).toBeCloseTo(metrics.macroF1, 12);

      // Renaming the classes consistently changes nothing either.
      const rename = rng.shuffle(Array.from({ length: classes }, (_, c) => c));
      const renamed = classificationMetrics(
        classes,
        labels.map((l) => rename[l]!),
        predictions.map((p) => rename[p]!),
      );
      expect(renamed.macroF1, context).toBeCloseTo(metrics.macroF1, 12);

      // F1 is symmetric in false positives and false negatives, so swapping labels and predictions keeps macro-F1.
      expect(classificationMetrics(classes, predictions, labels).macroF1, context).toBeCloseTo(metrics.macroF1, 12);
    }
  });

  it.each([
    [2, [0, 1], [0], /2 labels but 1 predictions/],
    [2, [], [], /no rows to evaluate/],
    [2, [0, 2], [0, 1], /label 2 at row 1 is outside the classes \[0, 2\)/],
    [3, [0, 1], [0, -1], /prediction -1 at row 1/],
    [0, [0], [0], /positive integer/],
  ])('rejects bad input (classes %i, labels %j, predictions %j)', (classes, labels, predictions, message) => {
    expect(() => classificationMetrics(classes, i32(labels), i32(predictions))).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) }),
    );
  });
});

describe('convergenceMetrics', () => {
  const epoch = (n: number, validationAccuracy: number, seconds: number): EpochRecord => ({
    epoch: n,
    trainLoss: 1 / n,
    validationLoss: 1 - validationAccuracy,
    validationAccuracy,
    seconds,
  });
  const history = [epoch(1, 0.5, 2), epoch(2, 0.8, 3), epoch(3, 0.9, 1), epoch(4, 0.9, 4), epoch(5, 0.7, 5)];

  it('finds the first epoch with the best validation accuracy and the mean epoch time', () => {
    // Epochs 3 and 4 tie at 0.9: the earlier one is the one early stopping keeps. Seconds (2+3+1+4+5)/5 = 3.
    expect(convergenceMetrics(history)).toEqual({ bestEpoch: 3, epochs: 5, secondsPerEpoch: 3 });
  });

  it('prefers the best epoch the trainer reports', () => {
    expect(convergenceMetrics(history, 4).bestEpoch).toBe(4);
  });

  it('rejects a best epoch outside the history', () => {
    for (const bad of [0, 6, 2.5]) {
      expect(() => convergenceMetrics(history, bad)).toThrowError(expect.objectContaining({ code: ErrorCode.InvalidInput }));
    }
  });

  it('reports zero epochs for an empty history without inventing times', () => {
    expect(convergenceMetrics([])).toEqual({ epochs: 0 });
  });
});
