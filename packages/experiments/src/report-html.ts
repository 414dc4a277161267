import type { Block, ReportDocument } from './report-document.js';
import type { FindingStatus } from './report-findings.js';

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** The class that colours a finding's verdict (see STYLE); any other bold lead-in has none. */
const VERDICT_CLASS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    held: 'held',
    'did not hold': 'did-not-hold',
    'partly held': 'partly-held',
    'not measured': 'not-measured',
  } satisfies Record<FindingStatus, string>),
);

/** The only inline markup the blocks use: `code`. */
const inline = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');

const STYLE = `
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #222; max-width: 1180px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 30px; border-bottom: 1px solid #ddd; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f4f4; }
td.text { white-space: normal; text-align: left; word-break: break-word; max-width: 460px; font-size: 12px; }
tr.study td { color: #777; font-style: italic; border-top: none; }
.note { color: #555; font-size: 12.5px; max-width: 1000px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; }
.held { color: #1a7f37; } .did-not-hold { color: #c62828; } .partly-held { color: #b26a00; } .not-measured { color: #777; }
code { background: #f4f4f4; padding: 0 3px; }
`;

/** One self-contained HTML file: styles and plots inline, nothing fetched. */
export function renderHtml(document: ReportDocument): string {
  const out: string[] = [];
  const render = (block: Block) => {
    switch (block.kind) {
      case 'heading':
        out.push(`<h${block.level}>${inline(block.text)}</h${block.level}>`);
        break;
      case 'paragraph':
        out.push(`<p>${inline(block.text)}</p>`);
        break;
      case 'list':
        out.push('<ul>');
        for (const item of block.items) {
          // The lead-in may be a run key or other text from the records: it never goes into an attribute.
          const verdict = item.strong ? VERDICT_CLASS.get(item.strong) : undefined;
          const strong = item.strong ? `<strong${verdict ? ` class="${verdict}"` : ''}>${inline(item.strong)}</strong>: ` : '';
          const sub = item.sub?.length ? `<ul>${item.sub.map((s) => `<li>${inline(s)}</li>`).join('')}</ul>` : '';
          out.push(`<li>${strong}${inline(item.text)}${sub}</li>`);
        }
        out.push('</ul>');
        break;
      case 'table':
        out.push('<table>');
        out.push(`<tr>${block.header.map((h) => `<th>${inline(h)}</th>`).join('')}</tr>`);
        for (const row of block.rows) {
          const study = row[1] === 'study';
          // Long text (options as JSON) wraps; numbers never do.
          out.push(
            `<tr${study ? ' class="study"' : ''}>${row.map((c) => `<td${c.length > 40 ? ' class="text"' : ''}>${inline(c)}</td>`).join('')}</tr>`,
          );
        }
        out.push('</table>');
        if (block.note) out.push(`<p class="note">${inline(block.note)}</p>`);
        break;
      case 'plots':
        out.push(`<div class="plots">${block.plots.map((p) => `<figure>${p.svg}</figure>`).join('')}</div>`);
        break;
    }
  };
  document.blocks.forEach(render);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(document.title)}</title>
<style>${STYLE}</style>
</head>
<body>
${out.join('\n')}
</body>
</html>
`;
}
