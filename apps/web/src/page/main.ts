import {
  createWebClassifier,
  metadataValue,
  ortEnv,
  parseFeatureRows,
  type WebClassifier,
  type WebPrediction,
  type WebProvider,
} from '@hyperproto/runtime-web';

/** What the page exposes on `window.hyperprotoPage`, for scripts and the browser test. */
export interface PageState {
  classifier: WebClassifier | undefined;
  lastPrediction: WebPrediction | undefined;
  /** Rows of the last prediction, as parsed from the input. */
  lastRows: number[][] | undefined;
  loadError: string | undefined;
}

declare global {
  interface Window {
    hyperprotoPage: PageState;
  }
}

const MAX_TABLE_ROWS = 1000;

const params = new URLSearchParams(location.search);
let providerChoice = ['auto', 'webgpu', 'wasm'].includes(params.get('ep') ?? '') ? params.get('ep')! : 'auto';
const modelUrl = params.get('model') ?? '/model.onnx';
const state: PageState = { classifier: undefined, lastPrediction: undefined, lastRows: undefined, loadError: undefined };
window.hyperprotoPage = state;

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
};
const statusBox = $<HTMLDivElement>('status');
const metaList = $<HTMLDListElement>('model-meta');
const rowsInput = $<HTMLTextAreaElement>('rows');
const topKInput = $<HTMLInputElement>('topk');
const classifyButton = $<HTMLButtonElement>('classify');
const exampleButton = $<HTMLButtonElement>('example');
const inputError = $<HTMLDivElement>('input-error');
const providerSelect = $<HTMLSelectElement>('ep');

function providersFor(choice: string): WebProvider[] {
  if (choice === 'wasm') return ['wasm'];
  if (choice === 'webgpu') return ['webgpu'];
  return ['webgpu', 'wasm'];
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; title?: string } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  if (props.title) node.title = props.title;
  node.append(...children);
  return node;
}

function message(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const hint = 'hint' in error && typeof error.hint === 'string' ? ` (${error.hint})` : '';
  return `${error.message}${hint}`;
}

/** The model on show, kept so that a change of provider can reload it in place. */
let current: { source: string | Uint8Array; label: string; size: number | undefined } | undefined;
/** Counts loads, so that a load overtaken by a newer one (a quick second choice) gives way to it. */
let loads = 0;

async function loadModel(source: string | Uint8Array, label: string, size?: number): Promise<void> {
  current = { source, label, size };
  const load = ++loads;
  document.body.dataset.state = 'loading';
  classifyButton.disabled = true;
  exampleButton.disabled = true;
  statusBox.className = 'status';
  statusBox.replaceChildren(el('span', { className: 'spinner' }), document.createTextNode(` Loading ${label}…`));
  const previous = state.classifier;
  state.classifier = undefined;
  // Predictions of the previous model would read as this one's.
  state.lastPrediction = undefined;
  $('results-card').hidden = true;
  if (previous) await previous.release();
  const threads = Number(params.get('threads'));
  // ?threads=N caps onnxruntime's wasm worker threads (its default is half the cores, at most 4).
  if (Number.isInteger(threads) && threads > 0) ortEnv.wasm.numThreads = threads;
  const started = performance.now();
  try {
    const classifier = await createWebClassifier(source, {
      providers: providersFor(providerChoice),
      // ?log=verbose prints onnxruntime's node placement ("All nodes placed on [WebGpuExecutionProvider]").
      ...(params.get('log') === 'verbose' ? { logLevel: 'verbose' as const } : {}),
    });
    if (load !== loads) {
      await classifier.release();
      return;
    }
    state.classifier = classifier;
    state.loadError = undefined;
    showModel(classifier, label, size ?? (source instanceof Uint8Array ? source.byteLength : undefined), performance.now() - started);
    document.body.dataset.provider = classifier.provider;
    document.body.dataset.state = 'ready';
    classifyButton.disabled = false;
    exampleButton.disabled = classifier.inputWidth === undefined;
  } catch (error) {
    if (load !== loads) return;
    state.loadError = message(error);
    statusBox.className = 'status failed';
    statusBox.replaceChildren(el('strong', { text: 'Could not load the model. ' }), document.createTextNode(state.loadError));
    metaList.replaceChildren();
    document.body.dataset.state = 'failed';
  }
}

function showModel(classifier: WebClassifier, label: string, size: number | undefined, milliseconds: number): void {
  const gpu = classifier.provider === 'webgpu';
  const badge = el('span', { className: `badge ${classifier.provider}`, text: gpu ? 'WebGPU' : 'WebAssembly (wasm)' });
  badge.id = 'provider';
  const parts: Node[] = [
    badge,
    el('span', { text: `running ${label}` }),
    el('span', {
      className: 'note',
      text: `loaded in ${milliseconds.toFixed(0)} ms${!gpu && ortEnv.wasm.numThreads ? ` · ${threadCount(ortEnv.wasm.numThreads)}` : ''}`,
    }),
  ];
  const fallback = classifier.fallbackReason;
  if (fallback) {
    const note = el('div', { className: 'fallback', text: `Fell back to wasm. ${fallback}` });
    note.id = 'fallback-reason';
    parts.push(note);
  } else if (!gpu && providerChoice === 'wasm') {
    parts.push(el('span', { className: 'note', text: '(wasm chosen)' }));
  }
  statusBox.className = 'status';
  statusBox.replaceChildren(...parts);

  const info = classifier.info;
  const meta = info.metadata;
  const value = (key: string) => metadataValue(meta, [key]);
  const head = value('head');
  const strategy = value('strategy');
  const dims = value('dims');
  const hiddenLayers = value('hiddenlayers');
  const hiddenUnits = value('hiddenunits');
  const entries: [string, string][] = [
    ['input', classifier.inputWidth === undefined ? classifier.inputName : `${classifier.inputName} [N, ${classifier.inputWidth}]`],
    ['classes', classifier.classes === undefined ? '?' : String(classifier.classes)],
    ['output', `${classifier.scoreName} [N, ${classifier.classes ?? 'C'}]${classifier.labelName ? ` + ${classifier.labelName}` : ''}`],
  ];
  if (head) {
    const described = [head === 'hpn' ? 'HPN' : head, strategy && `${strategy} prototypes`, head === 'hpn' && dims && `D = ${dims}`];
    entries.push(['head', described.filter(Boolean).join(', ')]);
  }
  if (hiddenLayers && hiddenUnits) entries.push(['trunk', `${hiddenLayers} × ${hiddenUnits} units`]);
  const names = classifier.classNames;
  if (names) entries.push(['class names', names.length > 6 ? `${names.slice(0, 6).join(', ')}, …` : names.join(', ')]);
  const producer = [info.producerName, info.producerVersion].filter(Boolean).join(' ');
  if (producer) entries.push(['producer', producer]);
  entries.push(['format', `ONNX IR ${info.irVersion ?? '?'}, opset ${info.opsets[''] ?? '?'}${size ? `, ${formatBytes(size)}` : ''}`]);
  // Whatever else the exporter stored, as it stands in metadata_props.
  const summarised = new Set([
    'head',
    'strategy',
    'dims',
    'hiddenlayers',
    'hiddenunits',
    'classes',
    'inputwidth',
    'input',
    'scoresname',
    'classnames',
    'producer',
    'producerversion',
  ]);
  const rest = Object.entries(meta).filter(([key]) => !summarised.has(key.toLowerCase().replace(/[^a-z0-9]/g, '')));
  if (rest.length) entries.push(['metadata', rest.map(([key, v]) => `${key}=${v.length > 40 ? `${v.slice(0, 40)}…` : v}`).join(' · ')]);
  metaList.replaceChildren(
    ...entries.map(([term, text]) =>
      el('div', { className: text.length > 48 ? 'wide' : '' }, el('dt', { text: term }), el('dd', { text })),
    ),
  );
  $('input-shape').textContent = classifier.inputWidth === undefined ? '' : `${classifier.inputWidth} features per row`;
  if (classifier.classes !== undefined) topKInput.max = String(classifier.classes);
}

function threadCount(threads: number): string {
  return threads === 1 ? '1 thread' : `${threads} threads`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function classify(): Promise<void> {
  const classifier = state.classifier;
  if (!classifier) return;
  inputError.hidden = true;
  classifyButton.disabled = true;
  try {
    const parsed = parseFeatureRows(rowsInput.value);
    const topK = Number(topKInput.value || '3');
    const prediction = await classifier.predict(parsed.rows, {
      topK: Math.min(Math.max(1, Math.floor(topK) || 1), classifier.classes ?? topK),
    });
    state.lastPrediction = prediction;
    state.lastRows = parsed.rows;
    showPrediction(classifier, prediction);
  } catch (error) {
    inputError.textContent = message(error);
    inputError.hidden = false;
  } finally {
    classifyButton.disabled = false;
  }
}

function showPrediction(classifier: WebClassifier, prediction: WebPrediction): void {
  const names = classifier.classNames;
  const nameOf = (index: number) => names?.[index] ?? `class ${index}`;
  const probabilities = prediction.scoreName === 'probabilities';
  const body = $<HTMLTableElement>('results').tBodies[0]!;
  const shown = Math.min(prediction.rows, MAX_TABLE_ROWS);
  const rows: HTMLTableRowElement[] = [];
  for (let r = 0; r < shown; r++) {
    const label = prediction.labels[r]!;
    const top = prediction.topK?.[r] ?? [];
    const scores = el(
      'div',
      { className: 'scores' },
      ...top.map(({ index, score }) => {
        // Probabilities run from 0 to 1 and cosines from -1 to 1: each bar spans its own range.
        const bar = el('span');
        const fraction = probabilities ? score : (score + 1) / 2;
        bar.style.width = `${(Math.max(0, Math.min(1, fraction)) * 100).toFixed(1)}%`;
        return el(
          'div',
          { className: `score${index === label ? ' best' : ''}` },
          el('span', { className: 'name', text: nameOf(index), title: nameOf(index) }),
          el('span', { className: 'bar' }, bar),
          el('span', { className: 'value', text: score.toFixed(probabilities ? 4 : 3) }),
        );
      }),
    );
    const row = el(
      'tr',
      {},
      el('td', { className: 'num', text: String(r + 1) }),
      el('td', {}, el('span', { className: 'label-chip', text: nameOf(label) })),
      el('td', {}, scores),
    );
    row.dataset.label = String(label);
    rows.push(row);
  }
  body.replaceChildren(...rows);
  const perRow = prediction.milliseconds / prediction.rows;
  $('summary').textContent =
    `${prediction.rows} row${prediction.rows === 1 ? '' : 's'} · ${prediction.milliseconds.toFixed(1)} ms (${perRow.toFixed(3)} ms/row) · ${prediction.provider} · ${prediction.scoreName}`;
  const truncated = $<HTMLParagraphElement>('truncated');
  truncated.hidden = prediction.rows <= MAX_TABLE_ROWS;
  truncated.textContent = `The table shows the first ${MAX_TABLE_ROWS} of ${prediction.rows} rows.`;
  $('scores-heading').textContent = probabilities
    ? 'top-k probabilities'
    : prediction.scoreName === 'scores'
      ? 'top-k cosines'
      : `top-k ${prediction.scoreName}`;
  $('results-card').hidden = false;
}

/** A few rows of standard normal noise, so the page can be tried without a data file. */
function exampleRows(width: number, count = 5): string {
  const normal = () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return Array.from({ length: count }, () => Array.from({ length: width }, () => normal().toFixed(3)).join(', ')).join('\n');
}

providerSelect.value = providerChoice;
providerSelect.addEventListener('change', () => {
  providerChoice = providerSelect.value;
  // Kept in the address so that a reload or a shared link asks for the same provider.
  const next = new URL(location.href);
  if (providerChoice === 'auto') next.searchParams.delete('ep');
  else next.searchParams.set('ep', providerChoice);
  history.replaceState(null, '', next);
  if (current) void loadModel(current.source, current.label, current.size);
});
classifyButton.addEventListener('click', () => void classify());
rowsInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) void classify();
});
exampleButton.addEventListener('click', () => {
  const width = state.classifier?.inputWidth;
  if (width !== undefined) rowsInput.value = exampleRows(width);
});
$<HTMLInputElement>('rows-file').addEventListener('change', (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (!file) return;
  void file.text().then((text) => {
    rowsInput.value = text;
    return classify();
  });
});
$<HTMLInputElement>('model-file').addEventListener('change', (event) => {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (!file) return;
  void file.arrayBuffer().then((buffer) => loadModel(new Uint8Array(buffer), file.name, file.size));
});

void loadModel(modelUrl, modelUrl.split('/').pop() || modelUrl);
