import type { ReportData } from './report-data.js';
import type { Block } from './report-document.js';
import { phaseTotals, type PhaseTotals } from './run-phases.js';

const COLUMNS = [
  { label: 'data', of: (t: PhaseTotals) => t.seconds.data },
  { label: 'prototypes', of: (t: PhaseTotals) => t.seconds.prototypes },
  { label: 'setup', of: (t: PhaseTotals) => t.seconds.setup },
  { label: 'training', of: (t: PhaseTotals) => t.seconds.training },
  { label: 'evaluation', of: (t: PhaseTotals) => t.seconds.evaluation },
  { label: 'references', of: (t: PhaseTotals) => t.seconds.baseline + t.seconds.geometry },
  { label: 'other', of: (t: PhaseTotals) => t.seconds.other },
] as const;

/**
 * Where the run time went, per dataset and in all: the seconds of each stage summed over the finished runs, with
 * its share of their time, and how many runs took their dataset or prototypes from their worker's store.
 */
export function phaseBlocks(data: ReportData): Block[] {
  if (data.records.length === 0) return [];
  const perDataset = data.datasets
    .map((d) => ({ label: d.label, totals: phaseTotals(data.records.filter((r) => r.dataset === d.id)) }))
    .filter((g) => g.totals.runs > 0);
  const groups = perDataset.length > 1 ? [...perDataset, { label: 'all', totals: phaseTotals(data.records) }] : perDataset;
  const cell = (seconds: number, total: number) => `${seconds.toFixed(1)} (${total > 0 ? Math.round((100 * seconds) / total) : 0} %)`;
  const reused = ({ reused: r, runs }: PhaseTotals) => `${r.dataset ?? 0} / ${r.prototypes ?? 0} of ${runs}`;
  return [
    { kind: 'heading', level: 2, text: 'Where the run time went' },
    {
      kind: 'table',
      header: ['dataset', 'runs', ...COLUMNS.map((c) => `${c.label} s`), 'in all s', 'reused data / prototypes'],
      rows: groups.map(({ label, totals }) => [
        label,
        String(totals.runs),
        ...COLUMNS.map((c) => cell(c.of(totals), totals.seconds.total)),
        totals.seconds.total.toFixed(1),
        reused(totals),
      ]),
      note: 'Seconds of each stage summed over the finished runs, and its share of their time: data (making or reading the data, and its optimal rule where it has one), prototypes, setup (the head and the engine), training (with the validation pass of every epoch), evaluation (the kept model on the test and validation splits), references (the class-mean baseline and the prototype geometry), other (what a record predates or no stage covers). A run that took its dataset or prototypes from an earlier run of the same worker spent only the time of a copy on them; the last column counts those runs.',
    },
  ];
}
