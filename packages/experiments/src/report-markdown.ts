import type { Block, ReportDocument } from './report-document.js';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** GitHub-flavoured Markdown; plots are referenced as files under `plots/`. */
export function renderMarkdown(document: ReportDocument, plotsDir = 'plots'): string {
  const out: string[] = [];
  const render = (block: Block) => {
    switch (block.kind) {
      case 'heading':
        out.push(`${'#'.repeat(block.level)} ${block.text}`, '');
        break;
      case 'paragraph':
        out.push(block.text, '');
        break;
      case 'list':
        for (const item of block.items) {
          out.push(`- ${item.strong ? `**${item.strong}**: ` : ''}${item.text}`);
          for (const sub of item.sub ?? []) out.push(`  - ${sub}`);
        }
        out.push('');
        break;
      case 'table':
        out.push(`| ${block.header.map(cell).join(' | ')} |`);
        out.push(`|${block.header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
        for (const row of block.rows) out.push(`| ${row.map(cell).join(' | ')} |`);
        out.push('');
        if (block.note) out.push(block.note, '');
        break;
      case 'plots':
        for (const plot of block.plots) out.push(`![${plot.title}](${plotsDir}/${plot.file})`, '');
        break;
    }
  };
  document.blocks.forEach(render);
  return `${out.join('\n').trimEnd()}\n`;
}
