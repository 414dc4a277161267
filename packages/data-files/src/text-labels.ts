import { badData } from './file-errors.js';
import { LabelValues } from './label-values.js';
import { forEachLine, type LineHooks } from './text-lines.js';

/** Labels from a text file with one label per line (surrounding spaces and quotes dropped). */
export async function readTextLabels(path: string, hooks: LineHooks): Promise<LabelValues> {
  const labels = new LabelValues(path, 'line');
  // A blank line is only an error when a label follows it: trailing blank lines are harmless.
  let blank: number | undefined;
  await forEachLine(
    path,
    (text, line) => {
      const label = unquote(text.trim());
      if (label === '') {
        blank ??= line;
        return;
      }
      if (blank !== undefined)
        throw badData(`${path} line ${blank} is empty; every row needs a label, one per line, with no blank lines between them`);
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
