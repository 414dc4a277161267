import { cellKey, type ReportData, type ReportDataset, type ReportModel, type Stat } from './report-data.js';

/** Points of macro-F1 within which two scores count as "on par"; larger gaps count as a difference. */
export const PAR_POINTS = 2;
/** Largest ratio of seconds per epoch, within one class count, that still counts as "comparable". */
export const COMPARABLE_SPEED_RATIO = 1.5;

/**
 * Whether two cells' mean macro-F1 (points) differ by more than the seeds let one tell apart: the gap must exceed
 * PAR_POINTS and the sum of the two standard deviations over seeds (a cell with one seed adds no spread). `gap` is
 * a - b.
 */
export function clearDifference(a: Stat, b: Stat): { readonly gap: number; readonly noise: number; readonly clear: boolean } {
  const gap = a.mean - b.mean;
  const noise = (a.sd ?? 0) + (b.sd ?? 0);
  return { gap, noise, clear: Math.abs(gap) > PAR_POINTS && Math.abs(gap) > noise };
}

export type FindingStatus = 'held' | 'did not hold' | 'partly held' | 'not measured';

export interface Finding {
  readonly id: string;
  /** The study's claim, in short. */
  readonly claim: string;
  readonly status: FindingStatus;
  /** The numbers behind the verdict, one line per comparison. */
  readonly evidence: readonly string[];
}

interface Check {
  readonly ok: boolean;
  readonly text: string;
}

const f1 = (s: Stat) => `${s.mean.toFixed(1)}${s.sd !== null ? ` ± ${s.sd.toFixed(1)}` : ''}`;

/** What the findings ask of a gap in macro-F1 points. */
const onPar = (gap: number) => Math.abs(gap) <= PAR_POINTS;
const clearlyBelow = (gap: number) => gap < -PAR_POINTS;

/**
 * Score `a` against score `b` (the gap is a - b, in points), or undefined when either has no results yet. `describe`
 * gets both scores as text; the signed gap follows it.
 */
function gapCheck(
  a: Stat | null | undefined,
  b: Stat | null | undefined,
  ok: (gap: number) => boolean,
  describe: (a: string, b: string) => string,
): Check | undefined {
  if (!a || !b) return undefined;
  const gap = a.mean - b.mean;
  return { ok: ok(gap), text: `${describe(f1(a), f1(b))} (${signed(gap)} points)` };
}

function verdict(checks: readonly (Check | undefined)[]): { status: FindingStatus; evidence: string[] } {
  const made = checks.filter((c): c is Check => c !== undefined);
  if (made.length === 0) return { status: 'not measured', evidence: ['the cells this needs have no results yet'] };
  const held = made.filter((c) => c.ok).length;
  const status: FindingStatus = held === made.length ? 'held' : held === 0 ? 'did not hold' : 'partly held';
  const skipped = checks.length - made.length;
  return {
    status,
    evidence: [
      ...made.map((c) => `${c.ok ? 'yes' : 'no'}: ${c.text}`),
      ...(skipped ? [`(${skipped} comparison${skipped > 1 ? 's' : ''} not measured yet)`] : []),
    ],
  };
}

/** The study's HPN: the built-in hpn head without options, over any prototype strategy. */
const isHpn = (m: ReportModel) =>
  m.head === 'hpn' && Object.keys(m.headOptions).length === 0 && m.strategy !== undefined && m.dims !== undefined;

/**
 * The study's findings, each checked against our numbers. Nothing here states a conclusion: each verdict is
 * computed from the cells, with the thresholds above, and cells without results make a finding "not measured".
 * Only for grids that contain the study's cells (see `seedComparison`), and only from the cells that are the
 * study's datasets with its heads: none otherwise.
 */
export function evaluateFindings(data: ReportData): Finding[] {
  if (!data.seed.applies) return [];
  const score = (d: ReportDataset, m: ReportModel | undefined) => (m ? (data.cells.get(cellKey(d.id, m.id))?.macroF1 ?? null) : null);
  const seedModel = (key: string) => data.models.find((m) => data.seed.models.get(m.id) === key);
  const softmax = seedModel('softmax');
  const hpnModels = data.models.filter(isHpn);
  // The study's own models first (optimized-10 ...), then any other HPN of that strategy and dimension (tammes).
  const hpn = (strategy: string, dims: number | undefined) =>
    seedModel(`${strategy}-${dims}`) ?? hpnModels.find((m) => m.strategy === strategy && m.dims === dims);
  const byClasses = data.datasets
    .filter((d) => data.seed.datasets.has(d.id))
    .map((d) => ({ ...d, classes: data.seed.datasets.get(d.id)! }))
    .sort((a, b) => a.classes - b.classes);
  const small = byClasses.filter((d) => d.classes! <= 100);
  const large = byClasses.filter((d) => d.classes! >= 1000);
  const name = (m: ReportModel) => (m.strategy ? `HPN ${m.strategy} D=${m.dims}` : m.label);
  const findings: Finding[] = [];

  // 1. On par at 10 and 100 classes, comparing the HPN with D = C (the one the study calls comparable).
  findings.push({
    id: 'par-small',
    claim: `With 10 and 100 classes, HPNs perform on par with softmax: the HPN whose prototype dimension equals the class count is at most ${PAR_POINTS} points below it.`,
    ...verdict(
      small.map((d) => {
        const model = hpn('optimized', d.classes);
        return gapCheck(
          score(d, model),
          score(d, softmax),
          (gap) => gap >= -PAR_POINTS,
          (h, s) => `${d.label} classes: ${name(model!)} ${h} vs softmax ${s}`,
        );
      }),
    ),
  });

  // 2. Underperforms at 1000 classes: even the best HPN is clearly below softmax.
  findings.push({
    id: 'worse-large',
    claim: 'With 1,000 classes, HPNs underperform softmax.',
    ...verdict(
      large.map((d) => {
        const s = score(d, softmax);
        const scored = hpnModels.map((m) => ({ m, s: score(d, m) })).filter((x) => x.s !== null);
        if (!s || scored.length === 0) return undefined;
        const best = scored.reduce((a, b) => (b.s!.mean > a.s!.mean ? b : a));
        return gapCheck(best.s, s, clearlyBelow, (h, sm) => `${d.label} classes: best HPN (${name(best.m)}) ${h} vs softmax ${sm}`);
      }),
    ),
  });

  // 3. Ceiling: once D >= C, a larger D adds little.
  const ceiling: (Check | undefined)[] = [];
  for (const d of small) {
    for (const strategy of strategiesOf(hpnModels)) {
      const dims = [...new Set(hpnModels.filter((m) => m.strategy === strategy && m.dims! >= d.classes).map((m) => m.dims!))].sort(
        (a, b) => a - b,
      );
      for (let i = 1; i < dims.length; i++) {
        ceiling.push(
          gapCheck(
            score(d, hpn(strategy, dims[i])),
            score(d, hpn(strategy, dims[i - 1])),
            onPar,
            (upper, lower) => `${d.label} classes, ${strategy}: D=${dims[i - 1]} ${lower} -> D=${dims[i]} ${upper}`,
          ),
        );
      }
    }
  }
  findings.push({
    id: 'ceiling',
    claim:
      'Once the prototype dimension reaches the class count, raising it further changes macro-F1 only marginally (10 and 100 classes).',
    ...verdict(ceiling),
  });

  // 4. Random prototypes hurt at D = C = 10.
  findings.push({
    id: 'random-low-dims',
    claim: 'With 10 classes and 10-dimensional prototypes, random prototypes score lower than optimised ones.',
    ...verdict(
      byClasses
        .filter((d) => d.classes === 10)
        .map((d) =>
          gapCheck(
            score(d, hpn('random', 10)),
            score(d, hpn('optimized', 10)),
            clearlyBelow,
            (r, o) => `${d.label} classes, D=10: random ${r} vs optimized ${o}`,
          ),
        ),
    ),
  });

  // 5. With enough room (D >= 100 and D >= C), random matches optimised.
  const room: (Check | undefined)[] = [];
  for (const d of byClasses) {
    for (const m of hpnModels.filter((x) => x.strategy === 'random' && x.dims! >= Math.max(100, d.classes!))) {
      const optimized = hpn('optimized', m.dims);
      if (!optimized) continue;
      room.push(
        gapCheck(score(d, m), score(d, optimized), onPar, (r, o) => `${d.label} classes, D=${m.dims}: random ${r} vs optimized ${o}`),
      );
    }
  }
  findings.push({
    id: 'random-high-dims',
    claim: 'With higher-dimensional prototypes (D >= 100 and D >= C) the difference between random and optimised prototypes disappears.',
    ...verdict(room),
  });

  // 6. At 1000 classes, D = 1000 works worse than D = 100.
  findings.push({
    id: 'large-dims-fail',
    claim: 'With 1,000 classes, 1,000-dimensional optimised prototypes score lower than 100-dimensional ones.',
    ...verdict(
      large.map((d) =>
        gapCheck(
          score(d, hpn('optimized', 1000)),
          score(d, hpn('optimized', 100)),
          clearlyBelow,
          (hi, lo) => `${d.label} classes: D=1000 ${hi} vs D=100 ${lo}`,
        ),
      ),
    ),
  });

  // 7. Speed per epoch comparable across models.
  findings.push({
    id: 'speed',
    claim: 'The speed per epoch is comparable for all models.',
    ...verdict(
      byClasses.map((d) => {
        const speeds = [...(softmax ? [softmax] : []), ...hpnModels]
          .map((m) => ({ m, s: data.cells.get(cellKey(d.id, m.id))?.secondsPerEpoch ?? null }))
          .filter((x): x is { m: ReportModel; s: Stat } => x.s !== null);
        if (speeds.length < 2) return undefined;
        const fastest = speeds.reduce((a, b) => (b.s.mean < a.s.mean ? b : a));
        const slowest = speeds.reduce((a, b) => (b.s.mean > a.s.mean ? b : a));
        const ratio = slowest.s.mean / fastest.s.mean;
        return {
          ok: ratio <= COMPARABLE_SPEED_RATIO,
          text: `${d.label} classes: slowest ${name(slowest.m)} ${slowest.s.mean.toFixed(2)} s/epoch, fastest ${name(fastest.m)} ${fastest.s.mean.toFixed(2)} s/epoch (x${ratio.toFixed(2)})`,
        };
      }),
    ),
  });

  // 8. Table 3: the HPN with D = C takes at least as many epochs to converge as softmax.
  findings.push({
    id: 'convergence',
    claim: 'The HPN whose prototype dimension equals the class count needs at least as many epochs to converge as softmax (Table 3).',
    ...verdict(
      byClasses.map((d) => {
        const s = softmax ? data.cells.get(cellKey(d.id, softmax.id))?.bestEpoch : null;
        const model = hpn('optimized', d.classes);
        const h = model ? data.cells.get(cellKey(d.id, model.id))?.bestEpoch : null;
        if (!s || !h) return undefined;
        return {
          ok: h.mean >= s.mean,
          text: `${d.label} classes: HPN D=${d.classes} best epoch ${h.mean.toFixed(1)} vs softmax ${s.mean.toFixed(1)}`,
        };
      }),
    ),
  });
  return findings;
}

/** How close the calibrated model (softmax in the seed presets) came to the published numbers it was sized for. */
export function calibration(data: ReportData): { ok: boolean; model: string; tolerance: number; lines: string[] } | undefined {
  const target = data.grid.calibration;
  const published = data.grid.published?.macroF1;
  const model = target ? data.models.find((m) => m.id === target.model && data.seed.models.has(m.id)) : undefined;
  if (!data.seed.applies || !target || !published || !model) return undefined;
  const lines: string[] = [];
  let ok = true;
  for (const d of data.datasets.filter((x) => data.seed.datasets.has(x.id))) {
    const ours = data.cells.get(cellKey(d.id, model.id))?.macroF1;
    const theirs = published[d.id]?.[model.id];
    if (!ours || theirs === undefined) continue;
    const gap = ours.mean - theirs;
    const within = Math.abs(gap) <= target.tolerancePoints;
    ok &&= within;
    lines.push(
      `${d.label} classes: ours ${f1(ours)}, study ${theirs.toFixed(1)} (${signed(gap)} points${within ? '' : `, outside ±${target.tolerancePoints}`})`,
    );
  }
  return lines.length ? { ok, model: model.label, tolerance: target.tolerancePoints, lines } : undefined;
}

function strategiesOf(models: readonly ReportModel[]): string[] {
  return [...new Set(models.map((m) => m.strategy!))];
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
}
