import type { Block, ReportDocument } from './report-document.js';

export interface MarkdownOptions {
  /** Where the plots' files are, relative to the page. */
  readonly plotsDir?: string;
  /**
   * Keep links to the page's own files and sections (`[text](path)`, `[text](#anchor)`: no scheme, no `//host`): the
   * results page links its studies' files. Off, every bracket is text.
   */
  readonly links?: boolean;
}

/**
 * Block text is plain text with `code` spans, as the HTML renderer reads it. Labels, notes, failure messages and
 * commands come from grids and records, so everything else is escaped and reads as written, never as markup:
 * HTML-significant characters as entities (no tag, no entity), inline markdown characters with a backslash (no
 * emphasis, strikethrough or stray code span), a `]` before `(`, `[` or `:` too (no link, image or link reference
 * definition can close), and line breaks as spaces. Code spans keep their text as it is: markdown reads none inside.
 */
function inline(text: string, links: boolean, escaped = INLINE): string {
  const flat = text.replace(/\r\n?|\n/g, ' ');
  const pattern = links ? /`([^`]+)`|\[([^[\]]+)\]\((?!\/\/)([^\s()<>:]+)\)/g : /`([^`]+)`/g;
  const plain = (part: string) => part.replace(escaped, '\\$&').replace(/&/g, '&amp;').replace(/</g, '&lt;');
  let out = '';
  let from = 0;
  for (const match of flat.matchAll(pattern)) {
    out += plain(flat.slice(from, match.index));
    out += match[1] !== undefined ? `\`${match[1]}\`` : `[${inline(match[2]!, false, BRACKETED)}](${match[3]})`;
    from = match.index + match[0].length;
  }
  return out + plain(flat.slice(from));
}

/** An `_` between two letters or digits (E_TRAINING_FAILED) is left as it is: markdown never reads it as emphasis. */
const INLINE = /[\\`*~#]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])|\](?=[([:])/gu;
/** In the text of a link or image every bracket is escaped: one would end it early or nest another. */
const BRACKETED = /[\\`*~#[\]]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu;

/** Text that starts a paragraph or list item: a quote, list or numbered-list marker at its start is text too. */
const lineStart = (text: string) =>
  text
    .trimStart()
    .replace(/^(?:>|[-+](?=\s|-|$))/, '\\$&')
    .replace(/^(\d{1,9})([.)])(?=\s|$)/, '$1\\$2');

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** GitHub-flavoured Markdown; plots are referenced as files under `plots/`. */
export function renderMarkdown(document: ReportDocument, options: MarkdownOptions = {}): string {
  const { plotsDir = 'plots', links = false } = options;
  const text = (value: string) => inline(value, links);
  const paragraph = (value: string) => lineStart(text(value));
  const out: string[] = [];
  const render = (block: Block) => {
    switch (block.kind) {
      case 'heading':
        out.push(`${'#'.repeat(block.level)} ${text(block.text)}`, '');
        break;
      case 'paragraph':
        out.push(paragraph(block.text), '');
        break;
      case 'list':
        for (const item of block.items) {
          out.push(`- ${item.strong ? `**${text(item.strong)}**: ${text(item.text)}` : paragraph(item.text)}`);
          for (const sub of item.sub ?? []) out.push(`  - ${paragraph(sub)}`);
        }
        out.push('');
        break;
      case 'table':
        out.push(`| ${block.header.map((h) => cell(text(h))).join(' | ')} |`);
        out.push(`|${block.header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
        for (const row of block.rows) out.push(`| ${row.map((c) => cell(text(c))).join(' | ')} |`);
        out.push('');
        if (block.note) out.push(paragraph(block.note), '');
        break;
      case 'plots':
        for (const plot of block.plots) out.push(`![${inline(plot.title, false, BRACKETED)}](${plotsDir}/${plot.file})`, '');
        break;
    }
  };
  document.blocks.forEach(render);
  return `${out.join('\n').trimEnd()}\n`;
}
