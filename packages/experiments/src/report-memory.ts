import type { RunRecord } from './run-record.js';

/** Bytes as the reports show memory: whole MiB below 1 GiB, else GiB with two decimals. */
export function bytesText(bytes: number): string {
  const mib = bytes / 2 ** 20;
  return Math.round(mib) < 1024 ? `${mib.toFixed(0)} MiB` : `${(mib / 1024).toFixed(2)} GiB`;
}

/**
 * What the peak memory of a table measures and how to read it, for its note: how often the records sampled, and the
 * most runs that shared a process in them (their peaks include each other's memory).
 */
export function peakMemoryNote(records: readonly RunRecord[]): string {
  const measured = records.flatMap((r) => (r.memory ? [r.memory] : []));
  const intervals = [...new Set(measured.map((m) => m.sampleMilliseconds))].sort((a, b) => a - b);
  const together = Math.max(0, ...measured.map((m) => m.concurrentRuns));
  const sampled = intervals.length ? `every ${intervals.join(' or ')} ms` : 'at a fixed interval';
  const shared =
    together > 1
      ? `; runs execute in worker threads of one process, so with several at once (here up to ${together}) the peak is the process's, shared with the runs beside it (\`--workers 1\` measures a run's own)`
      : together === 1
        ? '; each run had the process to itself'
        : '';
  return `Peak memory: the largest resident set of the process a run executed in, sampled ${sampled} while it ran, mean over the seeds whose records have it${shared}; – where no record measured it (written before it was recorded, or run inline).`;
}
