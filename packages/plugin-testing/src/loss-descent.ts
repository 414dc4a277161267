/** Step of the central difference: float64 keeps its error near 1e-10 for losses of order 1. */
const DIFFERENCE_STEP = 1e-6;

export interface DescentResult {
  readonly startLoss: number;
  readonly endLoss: number;
  readonly steps: number;
  readonly output: Float64Array;
}

/**
 * Plain gradient descent on the values themselves, with finite-difference gradients and a step that halves until
 * the loss falls (and doubles after a success): no engine, no hand-written gradient, any head's loss.
 */
export function descendLoss(loss: (values: Float64Array) => number, start: Float64Array, maxSteps: number): DescentResult {
  let values: Float64Array = Float64Array.from(start);
  let current = loss(values);
  const startLoss = current;
  let rate = 1;
  let steps = 0;
  const gradient = new Float64Array(values.length);
  for (; steps < maxSteps; steps++) {
    for (let i = 0; i < values.length; i++) {
      const saved = values[i]!;
      const h = DIFFERENCE_STEP * Math.max(1, Math.abs(saved));
      values[i] = saved + h;
      const up = loss(values);
      values[i] = saved - h;
      const down = loss(values);
      values[i] = saved;
      gradient[i] = (up - down) / (2 * h);
    }
    let next: Float64Array | undefined;
    let nextLoss = current;
    for (; rate > 1e-12; rate /= 2) {
      const candidate = values.map((value, i) => value - rate * gradient[i]!);
      nextLoss = loss(candidate);
      if (nextLoss < current) {
        next = candidate;
        break;
      }
    }
    if (!next) break;
    values = next;
    current = nextLoss;
    rate *= 2;
  }
  return { startLoss, endLoss: current, steps, output: values };
}
