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
 * So does a bare URL, which GFM links as it is written (see {@link bareUrls}), outside a link's text.
 */
function inline(text: string, links: boolean, escaped = INLINE): string {
  const flat = text.replace(/\r\n?|\n/g, ' ');
  const pattern = links ? /`([^`]+)`|(!?)\[([^[\]]+)\]\((?!\/\/)([^\s()<>:]+)\)/g : /`([^`]+)`/g;
  const words = (part: string) => part.replace(escaped, '\\$&').replace(/&/g, '&amp;').replace(/</g, '&lt;');
  // In a link's text a URL is escaped too: a link holds no other.
  const plain = (part: string, last: boolean) => (escaped === BRACKETED ? words(part) : bareUrls(part, words, last));
  let out = '';
  let from = 0;
  for (const match of flat.matchAll(pattern)) {
    out += plain(flat.slice(from, match.index), false);
    // A `!` before a kept link would make it an image of that file: it stays a `!`.
    out += match[1] !== undefined ? `\`${match[1]}\`` : `${match[2] ? '\\!' : ''}[${inline(match[3]!, false, BRACKETED)}](${match[4]})`;
    from = match.index + match[0].length;
  }
  return out + plain(flat.slice(from), true);
}

/** An `_` between two letters or digits (E_TRAINING_FAILED) is left as it is: markdown never reads it as emphasis. */
const INLINE = /[\\`*~#]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])|\](?=[([:])/gu;
/** In the text of a link or image every bracket is escaped: one would end it early or nest another. */
const BRACKETED = /[\\`*~#[\]]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu;

/**
 * `text` with `escapeWords` applied to all but its bare URLs; `last` when no code span or link follows it. GFM links
 * `http://`, `https://` and `www.` at the start of a word, followed by a domain with a dot, as written up to the next
 * space or `<` (an extended autolink): a URL escaped would link another address (`https://x.org/p\*q`) or end early.
 * The punctuation GFM leaves out of the link at its end (`.`, `*`, `_`, `~`, an unmatched `)`) stays as written too:
 * an escape there would be read into the link, and before a space such a `*`, `_` or `~` can only close emphasis,
 * which no escaped text outside can open. A URL with a bracket or backtick (where a link or code span could start) or
 * ending in an entity (which GFM reads as a character) is escaped as text.
 */
function bareUrls(text: string, escapeWords: (words: string) => string, last: boolean): string {
  let out = '';
  let from = 0;
  for (const match of text.matchAll(BARE_URL)) {
    const url = match[0];
    // Not `last`, a code span or link follows the text: GFM would read it into a URL at its end.
    const followed = !last && match.index + url.length === text.length;
    if (followed || !linkedDomain(url) || TRAILING_ENTITY.test(url)) continue;
    out += escapeWords(text.slice(from, match.index)) + url;
    from = match.index + url.length;
  }
  return out + escapeWords(text.slice(from));
}

const BARE_URL = /(?<![^\s(])(?:https?:\/\/|www\.)[^\s<`[\]]+(?![^\s<])/g;
const TRAILING_ENTITY = /&[\p{L}\p{N}]+;[?!.,:*_~)]*$/u;

/** Whether GFM takes the URL's domain: segments of letters, digits, `-` and `_`, at least one dot, no `_` in the last two. */
function linkedDomain(url: string): boolean {
  const domain = /^(?:https?:\/\/)?([\p{L}\p{N}_.-]*)/u.exec(url)![1]!;
  const segments = domain.split('.');
  return segments.length > 1 && segments.every(Boolean) && !segments.slice(-2).some((s) => s.includes('_'));
}

/**
 * Text that starts a paragraph or list item: a quote, list or numbered-list marker at its start is text too, and so
 * is a task list's `[ ]` or `[x]`.
 */
const lineStart = (text: string) =>
  text
    .trimStart()
    .replace(/^(?:>|[-+](?=\s|-|$))/, '\\$&')
    .replace(/^(\d{1,9})([.)])(?=\s|$)/, '$1\\$2')
    .replace(/^\[([ xX])\](?=\s|$)/, '\\[$1]');

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
