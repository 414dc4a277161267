import { shorten } from './csv-features.js';
import { badData } from './file-errors.js';
import { LabelValues, MISSING_LABEL_FIX } from './label-values.js';
import { forEachLine, type LineHooks } from './text-lines.js';

// A label line that starts with a row number and a comma: `0,setosa`, as pandas writes a Series with its index.
const INDEXED = /^(\d+),(.*\S.*)$/;
const PANDAS_FIX =
  'pandas writes its row index as a first column (y.to_csv(path)): save the labels with y.to_csv(path, index=False, header=False), or keep them in the features CSV and name their column with labelColumn';

/**
 * Labels from a text file with one label per line (surrounding spaces and quotes dropped). A missing label (`nan`,
 * `NA`, `""`, a blank line before the last label: see `missingLabel`) is refused with its line.
 */
export async function readTextLabels(path: string, hooks: LineHooks): Promise<LabelValues> {
  const labels = new LabelValues(path, 'line');
  // A blank line is only an error when a label follows it: trailing blank lines are harmless.
  let blank: number | undefined;
  // The row number of a first label written as `<n>,<label>`, to tell a pandas index from a label with a comma.
  let firstIndex: { n: number; text: string; line: number } | undefined;
  await forEachLine(
    path,
    (text, line) => {
      const trimmed = text.trim();
      if (trimmed === '') {
        blank ??= line;
        return;
      }
      if (blank !== undefined)
        throw badData(`${path} line ${blank} is empty; ${MISSING_LABEL_FIX}; write one label per line, with no blank lines between them`);
      // `""`, as Python's csv module writes a missing value alone on a line, is no blank line: `add` refuses it as a
      // missing label wherever it is.
      const label = unquote(trimmed);
      if (labels.count === 0) {
        if (trimmed.startsWith(','))
          throw badData(
            `${path} line ${line} (${JSON.stringify(shorten(trimmed))}) looks like a header with an unnamed index column; ${PANDAS_FIX}`,
          );
        const indexed = INDEXED.exec(trimmed);
        if (indexed) firstIndex = { n: Number(indexed[1]), text: trimmed, line };
      } else if (labels.count === 1 && firstIndex) {
        if (Number(INDEXED.exec(trimmed)?.[1]) === firstIndex.n + 1) {
          const shown = [firstIndex.text, trimmed].map((shownText) => JSON.stringify(shorten(shownText))).join(', ');
          throw badData(`${path} lines ${firstIndex.line} and ${line} (${shown}) start with a row number and a comma; ${PANDAS_FIX}`);
        }
      }
      labels.add(label, line);
    },
    hooks,
  );
  if (labels.count === 0) throw badData(`${path} is empty; write one label per line, in the order of the feature rows`);
  return labels;
}

function unquote(text: string): string {
  return text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1).replaceAll('""', '"').trim() : text;
}
