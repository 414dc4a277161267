import { ErrorCode, HyperprotoError } from '@hyperproto/core';

/**
 * 1-based ranks of the values in ascending order; tied values share the mean of the ranks they span (so 10, 20, 20,
 * 30 rank 1, 2.5, 2.5, 4). Infinity ranks above every finite value. NaN has no rank and is refused.
 */
export function averageRanks(values: readonly number[]): number[] {
  const bad = values.findIndex((v) => Number.isNaN(v));
  if (bad >= 0) throw new HyperprotoError(ErrorCode.InvalidInput, `value ${bad} is NaN, which has no rank; leave it out before ranking`);
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && order[end]!.value === order[start]!.value) end++;
    // Positions start..end-1 hold equal values: ranks start+1 .. end, whose mean is (start + 1 + end) / 2.
    const shared = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]!.index] = shared;
    start = end;
  }
  return ranks;
}

/**
 * Spearman's rank correlation of paired values: the Pearson correlation of their average ranks (ties handled as
 * scipy.stats.spearmanr does). In [-1, 1]; null with fewer than two pairs or when either side is all ties (no order
 * to correlate).
 */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `spearman needs paired values, got ${x.length} and ${y.length}`);
  }
  if (x.length < 2) return null;
  const rx = averageRanks(x);
  const ry = averageRanks(y);
  const mean = (list: readonly number[]) => list.reduce((a, b) => a + b, 0) / list.length;
  const mx = mean(rx);
  const my = mean(ry);
  let covariance = 0;
  let vx = 0;
  let vy = 0;
  for (let i = 0; i < rx.length; i++) {
    const dx = rx[i]! - mx;
    const dy = ry[i]! - my;
    covariance += dx * dy;
    vx += dx * dx;
    vy += dy * dy;
  }
  if (vx === 0 || vy === 0) return null;
  // Rounding can carry a perfect correlation a hair past 1.
  return Math.max(-1, Math.min(1, covariance / Math.sqrt(vx * vy)));
}
