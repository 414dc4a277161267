import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { cliPackage } from './cli-package.js';
import { withDatasetFlags } from './dataset-flags.js';
import { collect } from './key-values.js';
import { ErrorCode, HyperprotoError, hideUrlPassword } from '@hyperproto/core';
import { isDecimalNumber } from '@hyperproto/data-files';
import { describeError, errorJson, exitCodeFor, EXIT } from './exit-codes.js';
import { flagGiven } from './interrupt.js';
import { hasResult, stopProgress, terminalText } from './output.js';
import { MAX_THREADS } from './thread-budget.js';

export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  /** Also say which engines and backends were passed over, and why. */
  verbose?: boolean;
  plugin?: string[];
  /** A config file to load; false (--no-config) loads none, not even hyperproto.config.* in the current directory. */
  config?: string | false;
}

// Only plain decimal digits: Number() would also take '', ' ', '0x10', '0b1', '1e3' and '1.0'.
const DECIMAL_INTEGER = /^[+-]?\d+$/;

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = DECIMAL_INTEGER.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}.`);
    return n;
  };
}

export function decimal(check: (n: number) => boolean, expected: string) {
  return (value: string): number => {
    const n = isDecimalNumber(value) ? Number(value) : Number.NaN;
    if (!Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`expected ${expected} (a decimal number).`);
    return n;
  };
}

/**
 * The prototype strategies hyperproto ships, as help names them: the registry (@hyperproto/builtin-plugins) is not
 * loaded to print help, since it loads both training engines; a test holds this list to the registry's.
 */
export const BUILTIN_STRATEGIES = ['random', 'optimized', 'tammes', 'spread', 'orthogonal', 'simplex', 'orthoplex', 'codes'] as const;

/** The training engines hyperproto ships, as help names them (held to the registry's by the same test). */
export const BUILTIN_ENGINES = ['onnxruntime', 'tfjs'] as const;

/** The `--threads` of the commands that run inferences (predict, serve): the bound and its reason, in one place. */
const THREADS_PER_INFERENCE = `threads per inference, 1 to ${MAX_THREADS} (4 x the cores; default: onnxruntime's, one per core)`;

/** An "Examples:" section for a command's help, one `$ hyperproto ...` line each. */
function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ hyperproto ${line}`).join('\n')}`;
}

const DATASET_FLAG_PARSERS = { integer, positive: decimal((n) => n > 0, 'a positive number') };

const NO_CONFIG =
  'load no config file, not even hyperproto.config.{json,mjs,js} in the current directory (a .mjs or .js config is code and runs); also HYPERPROTO_NO_CONFIG=1';

const VERBOSE = 'also say which training engines and backends were passed over, and why (`doctor` always does)';

/** Adds the options every command shares. */
function withGlobals(command: Command): Command {
  return command
    .option('--json', 'print one JSON object on stdout (for scripts); no progress bars')
    .option('-q, --quiet', 'no messages or progress on stderr')
    .option('--verbose', VERBOSE)
    .option('--plugin <specifier>', 'load a plugin package or ./path (repeatable)', collect)
    .option('--config <file>', 'config file (default: hyperproto.config.{json,mjs,js} in the current directory)')
    .option('--no-config', NO_CONFIG);
}

/**
 * Refuses a missing value of any option that takes one and of any argument (`--out "$OUT"`, `report "$DIR"` with
 * the variable unset), which would otherwise mean the current directory, every interface, every kind or a default:
 * an empty value, or a path or module option's value that is the next flag (`--out $OUT --force` makes a file named
 * --force; `--plugin $P --force` would load a plugin named --force).
 * A usage error naming the flag or argument, before the command does anything.
 */
function refuseMissingValues(command: Command): void {
  const isEmpty = (value: unknown) => value === '' || (Array.isArray(value) && value.includes(''));
  const values = command.opts();
  for (const option of command.options) {
    // Boolean and --no-* flags take no value; a value that a parser turned into a number is never ''.
    if (!(option.required || option.optional)) continue;
    const value: unknown = values[option.attributeName()];
    const name = option.long ?? option.flags;
    const flagLike = PATH_VALUE.test(option.flags)
      ? [value].flat().find((v): v is string => typeof v === 'string' && v.startsWith('-') && v !== '-')
      : undefined;
    if (flagLike !== undefined) throw flagAsPath(name, flagLike);
    if (!isEmpty(value)) continue;
    // A value from the environment (HYPERPROTO_QUEUE_URL for --queue) is refused naming the variable.
    if (option.envVar && command.getOptionValueSource(option.attributeName()) === 'env') throw emptyVariable(option.envVar, name);
    throw emptyValue(name);
  }
  command.registeredArguments.forEach((argument, i) => {
    if (isEmpty(command.processedArgs[i])) throw emptyValue(`<${argument.name()}${argument.variadic ? '...' : ''}>`);
  });
}

/**
 * The options whose value is a path or a module: their help names it a file, dir, path or specifier (`--out <dir>`,
 * `--start <strategy|file.npy>`, `--plugin <specifier>`).
 */
const PATH_VALUE = /<[^>]*\b(?:file|dir|path|specifier)\b[^>]*>/;

function flagAsPath(name: string, value: string): HyperprotoError {
  return new HyperprotoError(
    ErrorCode.InvalidOptions,
    `${name} is missing its value: it got "${value}", the next flag (an unset shell variable?)`,
    {
      hint: `Give ${name} its value; a path that starts with '-' can be written as ./${value}.`,
    },
  );
}

function emptyValue(name: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidOptions, `${name} is empty`, {
    hint: 'Give a value; a variable meant to hold it (e.g. --out "$OUT") may be unset.',
  });
}

function emptyVariable(variable: string, option: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidOptions, `${variable} is empty`, {
    hint: `Set ${variable} to the value ${option} would take, or unset it (a variable meant to fill it may be unset).`,
  });
}

/**
 * The environment variable that gives `experiment` and `worker` their job queue when --queue is not given: the
 * queue's URL carries its password, and a command line's arguments are what `ps` shows every user of the machine.
 */
export const QUEUE_VARIABLE = 'HYPERPROTO_QUEUE_URL';

/** Where a command's --queue came from, as its refusals name it: the option, or the environment variable. */
function queueSource(command: Command): string {
  return command.getOptionValueSource('queue') === 'env' ? QUEUE_VARIABLE : '--queue';
}

/**
 * A subcommand's options with the shared ones given before it (`prototypes --json inspect p.npy`): positional options
 * parse those as the parent's, where the subcommand would not see them (human text on success, yet a JSON error on
 * failure, which main() decides from the arguments). The subcommand's own value wins; --plugin collects both.
 */
function withParentGlobals<T extends GlobalOptions>(options: T, command: Command): T {
  const parent = command.parent?.opts<GlobalOptions>() ?? {};
  const merged: GlobalOptions = { ...options };
  for (const key of ['json', 'quiet', 'verbose', 'config'] as const) {
    if (merged[key] === undefined && parent[key] !== undefined) Object.assign(merged, { [key]: parent[key] });
  }
  if (parent.plugin) merged.plugin = [...parent.plugin, ...(options.plugin ?? [])];
  return merged as T;
}

export function buildProgram(): Command {
  const program = new Command('hyperproto')
    .description('Softmax vs hyperspherical prototype classifiers: data, prototypes, training, evaluation.')
    .version(cliPackage.version, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    // `prototypes` has options of its own and a subcommand: options after `inspect` belong to `inspect`.
    .enablePositionalOptions()
    .exitOverride()
    // The action's own options, and those given before it to its parent (`prototypes --plugin "" inspect`).
    .hook('preAction', (_, action) => {
      for (let command: Command | null = action; command; command = command.parent) refuseMissingValues(command);
    });

  withGlobals(
    withDatasetFlags(
      program
        .command('train')
        .description('train one classifier, evaluate it beside the class-mean baseline, and save the model and metrics'),
      DATASET_FLAG_PARSERS,
    )
      .addOption(
        new Option(
          '--head <name>',
          'classifier head: softmax, hpn, cosine-softmax, margin or bottleneck-softmax (or a plugin head)',
        ).default('softmax'),
      )
      .option('--head-option <key=value>', 'an option of the head (repeatable)', collect)
      .option(
        '--prototypes <strategy|file.npy>',
        `prototype strategy (${BUILTIN_STRATEGIES.join(', ')}, or a plugin's) or a .npy file, for heads that use prototypes (default: optimized)`,
      )
      .option('--dims <d>', 'prototype dimensions (default: the number of classes)', integer(1))
      .option('--prototypes-option <key=value>', 'an option of the prototype strategy (repeatable), e.g. steps=500', collect)
      .option('--prototype-option <key=value>', 'the same as --prototypes-option', collect)
      .option('--seed <n>', 'random seed: the same seed gives the same numbers', integer(0), 0)
      .option(
        '--out <dir>',
        'output directory (default: runs/<head>[-<strategy><dims>]-<data>-s<seed>, with the options given to each, e.g. runs/hpn-optimized100-c100-sigma2-s0)',
      )
      .option('--force', 'replace --out if it already holds a run')
      .option('--hidden-units <n>', 'units per hidden layer (default: 300)', integer(1))
      .option('--hidden-layers <n>', 'hidden layers, 1 to 16 (default: 2)', integer(1, 16))
      .option(
        '--dropout <rate>',
        'dropout rate in [0, 1) (default: 0.3)',
        decimal((n) => n >= 0 && n < 1, 'a number in [0, 1)'),
      )
      .option('--batch-size <n>', 'mini-batch size (default: 128)', integer(1))
      .option(
        '--learning-rate <lr>',
        'Adam learning rate (default: 0.001)',
        decimal((n) => n > 0, 'a positive number'),
      )
      .option('--patience <n>', 'epochs without validation improvement before stopping (default: 10)', integer(1))
      .option('--max-epochs <n>', 'upper bound on epochs (default: 200)', integer(1))
      .option('--engine <name>', `training engine: ${BUILTIN_ENGINES.join(' or ')}, or a plugin's (default: the fastest available)`)
      .option('--engine-option <key=value>', 'an option of the --engine (repeatable), e.g. provider=cpu for onnxruntime', collect)
      .option('--evaluator <name>', "an evaluator to run besides classification, e.g. a plugin's (repeatable)", collect)
      .addHelpText(
        'after',
        '\nExamples:\n  $ hyperproto train --classes 10 --head hpn --prototypes optimized --dims 10\n  $ hyperproto train --data X.npy --labels y.txt --head hpn --prototypes spread --dims 64\n  $ hyperproto train --data train.csv --dataset-option labelColumn=species --head softmax',
      ),
  ).action(async (options) => (await import('./commands/train.js')).trainCommand(options));

  const prototypes = withGlobals(
    program
      .command('prototypes')
      .description('make a prototype set and save it as .npy (float32 [classes, dims]); see also `prototypes inspect`')
      .option(
        '--strategy <name>',
        `prototype strategy: ${BUILTIN_STRATEGIES.join(', ')}, or a plugin's (\`hyperproto plugins --kind prototypes\` lists them with their options)`,
      )
      .option('--classes <n>', 'number of prototypes, 2 or more', integer(2))
      .option('--dims <d>', 'dimensions', integer(1))
      .option('--seed <n>', 'random seed', integer(0), 0)
      .option('--option <key=value>', 'a strategy option (repeatable), e.g. steps=500', collect)
      .option('--prototype-option <key=value>', "the same as --option (train's name for it)", collect)
      .option('--start <strategy|file.npy>', 'rows for a refining strategy (spread) to start from, e.g. codes')
      .option('--out <file.npy>', 'where to write the prototypes')
      .option('--force', 'replace --out if it exists')
      .enablePositionalOptions()
      .addHelpText(
        'after',
        examples(
          'prototypes --strategy optimized --classes 100 --dims 64 --out protos.npy',
          'prototypes --strategy simplex --classes 10 --dims 9 --out simplex.npy',
          'prototypes --strategy spread --start codes --classes 10000 --dims 100 --out spread.npy',
          'prototypes inspect protos.npy',
        ),
      ),
  ).action(async (options) => (await import('./commands/prototypes.js')).generatePrototypesCommand(options));

  withGlobals(
    prototypes
      .command('inspect')
      .description(
        'exact statistics of a prototype file by a blocked scan over all pairs: largest cosine, mean nearest-neighbour cosine, norm deviation, histogram, beside the simplex and Welch bounds',
      )
      .argument('<file.npy>', 'prototype file, float32 [classes, dims]')
      .option('--plot <file.svg>', 'draw the histogram of all pairwise cosines as SVG')
      .option('--bins <n>', 'histogram bins over [-1, 1], 1 to 255', integer(1, 255), 200)
      .addHelpText(
        'after',
        examples(
          'prototypes inspect protos.npy',
          'prototypes inspect protos.npy --plot cosines.svg --bins 100',
          'prototypes inspect protos.npy --json',
        ),
      ),
  ).action(async (file, options, command: Command) =>
    (await import('./commands/prototypes.js')).inspectPrototypesCommand(file, withParentGlobals(options, command)),
  );

  const data = program.command('data').description('look at the data a dataset spec makes, without training: `data inspect`');
  withGlobals(
    withDatasetFlags(
      data
        .command('inspect')
        .description(
          'make a dataset as `train --seed N` would (generated, or read from your files) and score the Bayes-optimal rule (where the dataset knows it) and the class-mean baseline on its validation split (or --split test): what to choose a noise level or a data size from',
        ),
      DATASET_FLAG_PARSERS,
    )
      .option('--seed <n>', 'random seed: the same data as a run of this seed', integer(0), 0)
      .addOption(new Option('--split <name>', 'the split to score').choices(['validation', 'test']).default('validation'))
      .addHelpText(
        'after',
        '\nExamples:\n  $ hyperproto data inspect --classes 10000 --sigma 1.6 --train-per-class 10 --validation-per-class 2 --test-per-class 1\n  $ hyperproto data inspect --classes 100000 --sigma 1.5 --train-per-class 10 --dataset-option validationRows=20000 --test-per-class 1 --json\n  $ hyperproto data inspect --data X.npy --labels y.txt',
      ),
  ).action(async (options) => (await import('./commands/data.js')).inspectDataCommand(options));

  withGlobals(
    program
      .command('plugins')
      .description('list every registered plugin by kind, with its options')
      .option('--kind <kind>', 'only this kind: dataset, prototypes, head, evaluator, engine')
      .addHelpText('after', examples('plugins', 'plugins --kind prototypes', 'plugins --plugin ./my-axes --kind prototypes --json')),
  ).action(async (options) => (await import('./commands/plugins.js')).pluginsCommand(options));

  withGlobals(
    program
      .command('doctor')
      .description('show the runtime: Node.js, the TensorFlow.js backend in use and why others were skipped, the engines')
      .addHelpText('after', examples('doctor', 'doctor --json')),
  ).action(async (options) => (await import('./commands/doctor.js')).doctorCommand(options));

  withGlobals(
    program
      .command('export')
      .description('export the trained model of a run directory to ONNX (checked against the trained model before it is written)')
      .argument('<run-dir>', 'a directory written by `hyperproto train` (or its model/ directory)')
      .requiredOption('--out <file.onnx>', 'where to write the ONNX model')
      .option('--top-k <k>', 'add topk_scores and topk_labels outputs: the k best classes of each row', integer(1))
      .option('--opset <n>', 'ONNX opset, 17 to 21 (default: 17)', integer(17, 21))
      .option(
        '--class-names <file>',
        'class names: a JSON array of strings or one name per line (default: from the run, when its dataset has them)',
      )
      .option('--force', 'replace --out if it exists')
      .option('--no-verify', 'skip running the exported file against the trained model')
      .addHelpText(
        'after',
        examples(
          'export runs/hpn-optimized10-c10-s0 --out model.onnx',
          'export runs/hpn-optimized10-c10-s0 --out model.onnx --top-k 3 --opset 21 --force',
          'export runs/softmax-c10-s0 --out model.onnx --class-names names.txt',
        ),
      ),
  ).action(async (runDir, options) => (await import('./commands/export.js')).exportCommand(runDir, options));

  withGlobals(
    program
      .command('predict')
      .description('classify the rows of a feature file with an exported ONNX model (onnxruntime)')
      .argument('<model.onnx>', 'a model written by `hyperproto export`')
      .requiredOption('--input <file>', 'feature rows: .npy [N, width], .csv (one row per line) or .jsonl (one JSON array per line)')
      .option('--top-k <k>', 'also give the k best classes of each row', integer(1))
      .option('--scores', 'also give every class score of each row')
      .option('--ep <provider>', 'execution provider: cpu or cuda (or a list, e.g. cuda,cpu)', 'cpu')
      .option('--allow-fallback', 'when the first --ep cannot start (e.g. CUDA not installed), run on the next one, ending with cpu')
      .option('--batch-size <n>', 'rows per inference', integer(1), 1024)
      .option('--threads <n>', THREADS_PER_INFERENCE, integer(1, MAX_THREADS))
      .option('--placement', 'also report which execution provider ran each node of the model (one profiled run)')
      .option(
        '--labels <file>',
        "true labels of the --input rows (a .npy file, or text with one label per line): adds accuracy and macro-F1; a CSV or JSON-lines file holding the model's label column needs none",
      )
      .option('--per-class', 'also precision, recall, F1 and support of each class; needs labels (--labels, or the label column)')
      .addHelpText(
        'after',
        '\nExamples:\n  $ hyperproto predict model.onnx --input X.npy --top-k 3\n  $ hyperproto predict model.onnx --input X_test.npy --labels y_test.txt --per-class\n  $ hyperproto predict model.onnx --input test.csv --json   # scored too when test.csv has the label column',
      ),
  ).action(async (model, options) => (await import('./commands/predict.js')).predictCommand(model, options));

  withGlobals(
    program
      .command('serve')
      .description('serve an exported ONNX model over HTTP: POST /v1/predict, GET /v1/metadata, GET /healthz; stops cleanly on SIGTERM')
      .argument('<model.onnx>', 'a model written by `hyperproto export`')
      .option('--port <port>', 'TCP port (0 picks a free one)', integer(0, 65535), 8080)
      .option('--host <address>', 'address to listen on', '127.0.0.1')
      .option('--ep <provider>', 'execution provider: cpu or cuda (or a list, e.g. cuda,cpu)', 'cpu')
      .option('--allow-fallback', 'when the first --ep cannot start (e.g. CUDA not installed), run on the next one, ending with cpu')
      .option('--max-batch <rows>', 'most rows in one inference, across concurrent requests', integer(1), 1024)
      .option(
        '--max-delay-ms <ms>',
        'longest wait to fill a batch, 0 to 1000; 0 batches the requests that arrive together',
        decimal((n) => n >= 0 && n <= 1000, 'a number from 0 to 1000'),
        0,
      )
      .option('--max-rows <rows>', 'most rows in one request', integer(1), 1024)
      .option('--body-limit <bytes>', 'largest request body accepted, 1024 or more', integer(1024), 8 * 1024 * 1024)
      .option(
        '--max-buffered-bytes <bytes>',
        'most bytes of request bodies over 64 KiB held at once, being received or answered, 1024 or more; more get 503 overloaded (default: 8 x --body-limit)',
        integer(1024),
      )
      .option(
        '--max-queued-rows <rows>',
        'most rows waiting for an inference; more get 503 overloaded (default: 8 x --max-batch)',
        integer(1),
      )
      .option('--threads <n>', THREADS_PER_INFERENCE, integer(1, MAX_THREADS))
      .option(
        '--allowed-host <name>',
        'also answer requests whose Host header names this (repeatable); 127.0.0.1, localhost, [::1] and --host always',
        collect,
      )
      .option('--max-connections <n>', 'most open connections; more are closed as they arrive', integer(1), 1024)
      .option(
        '--shutdown-timeout <seconds>',
        'on SIGTERM or Ctrl-C, longest wait for the requests in flight, 0.001 to 3600',
        decimal((n) => n >= 0.001 && n <= 3600, 'seconds from 0.001 to 3600'),
        10,
      )
      .option(
        '--headers-timeout <seconds>',
        "longest time to receive a request's headers (408 after), 0.001 to 3600",
        decimal((n) => n >= 0.001 && n <= 3600, 'seconds from 0.001 to 3600'),
        10,
      )
      .option(
        '--request-timeout <seconds>',
        'longest time to receive a whole request (408 after), 0.001 to 3600',
        decimal((n) => n >= 0.001 && n <= 3600, 'seconds from 0.001 to 3600'),
        30,
      )
      .option(
        '--keep-alive-timeout <seconds>',
        'how long an idle keep-alive connection stays open, 0.001 to 3600',
        decimal((n) => n >= 0.001 && n <= 3600, 'seconds from 0.001 to 3600'),
        5,
      )
      .option(
        '--idle-timeout <seconds>',
        'a connection with no traffic for this long is closed, 0.001 to 3600',
        decimal((n) => n >= 0.001 && n <= 3600, 'seconds from 0.001 to 3600'),
        30,
      )
      .addHelpText(
        'after',
        examples(
          'serve model.onnx',
          'serve model.onnx --port 9000 --threads 2 --max-batch 256 --max-delay-ms 2',
          'serve model.onnx --host 0.0.0.0 --allowed-host models.lab --ep cuda,cpu --allow-fallback',
        ),
      ),
  ).action(async (model, options) => (await import('./commands/serve.js')).serveCommand(model, options));

  const create = program.command('new').description('start a new package: `new plugin` writes a ready plugin package');
  withGlobals(
    create
      .command('plugin')
      .description(
        'write a plugin package: package.json (peer dependency on @hyperproto/core), index.js, a conformance test (node --test) and a README',
      )
      .argument(
        '<name>',
        'npm package name, e.g. my-axes or @me/hyperproto-prototypes-axes (the plugin is registered without scope and hyperproto-<kind>- prefix)',
      )
      .requiredOption('--kind <kind>', 'prototypes, head, dataset or evaluator')
      .option('--dir <dir>', 'directory to write (default: ./<name without scope>); must not exist or be empty')
      .addHelpText(
        'after',
        `${examples('new plugin --kind prototypes my-axes', 'new plugin --kind head @me/hyperproto-head-mine --dir packages/head-mine')}\n\nThen, to test and use the package:\n  $ cd my-axes && npm install && npm test\n  $ cd .. && npm install ./my-axes\n  $ hyperproto train --classes 10 --head hpn --prototypes my-axes --dims 5 --plugin my-axes`,
      ),
  ).action(async (name, options) => (await import('./commands/new-plugin.js')).newPluginCommand(name, options));

  withGlobals(
    program
      .command('experiment')
      .description('run a grid of experiments (datasets x models x seeds) in parallel, store one record per run, and write the report')
      .option(
        '--preset <name>',
        'a shipped grid: seed (the study: 3 datasets x 10 models x 5 seeds), seed-quick (same shape, small, one seed), collapse (why HPNs fall behind at 1,000 classes) or many-classes (1,000 to 100,000 classes)',
      )
      .option(
        '--grid <file>',
        'a grid file in the form of the presets (`hyperproto experiment --preset seed-quick` writes its grid to <out>/grid.json); its "plugins" load after the config\'s, relative to the grid file',
      )
      .option('--out <dir>', 'results directory (default: runs/<grid name>)')
      .option(
        '--resume',
        'continue the results in --out: finished runs are kept and skipped; the grid may grow: new models, datasets and seeds run, finished runs must stay as they were',
      )
      .option(
        '--workers <n>',
        'runs in parallel, one worker thread each (default: one per core); each gets cores / n onnxruntime threads',
        integer(1),
      )
      .addOption(
        new Option(
          '--queue <redis-url>',
          `run on the workers of a job queue instead of this machine: redis://[:PASSWORD@]HOST:PORT/DB, served by \`hyperproto worker\` on any machine; this command enqueues the unfinished runs and collects the records. Without --queue, ${QUEUE_VARIABLE} gives it, which keeps a password out of the arguments that \`ps\` shows`,
        ).env(QUEUE_VARIABLE),
      )
      .option(
        '--only <pattern>',
        'run only matching runs, keys dataset/model/s<seed>: c10, */softmax, c100/*/s0 (repeatable); the grid stays whole for a later --resume',
        collect,
      )
      .addOption(
        new Option(
          '--save-models <which>',
          "keep trained models under <out>/models/<dataset>/<model>/s<seed>/ (run directories, as `train` writes): best (the seed with the best validation accuracy of each cell), all, or none (default: best for a new --out; with --resume, the mode of the directory's earlier sessions; best over models kept under all is refused)",
        ).choices(['none', 'best', 'all']),
      )
      .addHelpText(
        'after',
        '\nPlugins load from the config file (hyperproto.config.{json,mjs,js} here, or --config FILE), then the grid\'s\n"plugins", then --plugin; a module named twice with the same options loads once.\n\nExamples:\n  $ hyperproto experiment --preset seed-quick --out runs/seed-quick\n  $ hyperproto experiment --grid my-grid.json --out runs/mine --workers 2\n  $ hyperproto experiment --grid my-grid.json --out runs/mine --resume   # after the grid grew (more models, datasets, seeds)\n  $ hyperproto experiment --preset seed --out runs/seed --resume --only c10\n  $ hyperproto experiment --preset seed --out runs/seed --queue redis://10.0.0.5:6379/0   # with `hyperproto worker` on each machine\n  $ HYPERPROTO_QUEUE_URL="$(cat queue-url.secret)" hyperproto experiment --preset seed --out runs/seed   # a URL with a password: not in the arguments, which ps shows',
      ),
  ).action(async (options, command: Command) => {
    // Every worker thread builds the registry again: --no-config reaches them by the environment they inherit.
    if (options.config === false) process.env.HYPERPROTO_NO_CONFIG = '1';
    return (await import('./commands/experiment.js')).experimentCommand({ ...options, queueFrom: queueSource(command) });
  });

  withGlobals(
    program
      .command('worker')
      .description(
        'take the runs of `hyperproto experiment --queue` from a job queue and train them on this machine, until stopped (Ctrl-C or SIGTERM puts the runs in progress back)',
      )
      .addOption(
        new Option(
          '--queue <redis-url>',
          `the job queue: redis://[:PASSWORD@]HOST:PORT/DB, as given to \`experiment --queue\`; required: here, or in ${QUEUE_VARIABLE}, which keeps a password out of the arguments that \`ps\` shows`,
        ).env(QUEUE_VARIABLE),
      )
      .option('--concurrency <n>', 'runs at once, each in its own worker thread, 1 to 256 (default: 1)', integer(1, 256))
      .option(
        '--threads <n>',
        `onnxruntime threads each run may use, 1 to ${MAX_THREADS} (4 x the cores; default: the cores divided by --concurrency)`,
        integer(1, MAX_THREADS),
      )
      .option(
        '--lock-seconds <s>',
        "how long a run's job stays locked without this worker renewing it, 1 to 3600 seconds: a killed worker's runs are taken by another after about twice this (default: 30; use the same on every worker)",
        decimal((n) => n >= 1 && n <= 3600, 'seconds from 1 to 3600'),
      )
      .addHelpText(
        'after',
        '\nExamples:\n  $ hyperproto worker --queue redis://10.0.0.5:6379/0 --concurrency 4\n  $ hyperproto worker --queue redis://queue.lab:6379/0 --plugin my-prototypes --threads 2\n  $ HYPERPROTO_QUEUE_URL="$(cat /run/secrets/queue-url)" hyperproto worker --concurrency 4   # the password not in the arguments, which ps shows',
      ),
  ).action(async (options, command: Command) =>
    (await import('./commands/worker.js')).workerCommand({ ...options, queueFrom: queueSource(command) }),
  );

  program
    .command('report')
    .description(
      'write report.md, a self-contained report.html and plots/*.svg from the results of `hyperproto experiment`; with --summary, one results page over several results directories',
    )
    .argument('<dirs...>', 'the results directory (--out of `hyperproto experiment`); several with --summary')
    .option(
      '--out <path>',
      'write the report into this directory instead of the results directory; with --summary, the page file (default: README.md beside the first directory, unless a README.md there is not a page this command wrote)',
    )
    .option(
      '--summary',
      'write one page (Markdown, plots under plots/ beside it) that states per class count which head wins on macro-F1 and on cost, from every directory given; a directory without grid.json yet is read as the preset of its name, with no runs',
    )
    .option(
      '--force',
      'replace a report.md or report.html in --out that this command did not write, or with --summary an --out file that is not a results page it wrote (its own are always replaced)',
    )
    .option('--json', 'print one JSON object on stdout (for scripts)')
    .option('-q, --quiet', 'no messages on stderr')
    .option('--verbose', VERBOSE)
    .addHelpText(
      'after',
      '\nExamples:\n  $ hyperproto report runs/seed\n  $ hyperproto report runs/seed --out /tmp/seed-report\n  $ hyperproto report runs/seed --out site --force\n  $ hyperproto report docs/results/seed docs/results/collapse docs/results/many-classes --summary --out docs/results/README.md',
    )
    .action(async (dirs, options) => (await import('./commands/report.js')).reportCommand(dirs, options));

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  // With --json a failure is one JSON object on stdout, commander's usage errors too: silence its prose on stderr.
  const json = flagGiven(argv, '--json');
  // Commander's usage errors echo arguments (`unknown option '--queue=redis://:PASSWORD@…'`): held until then, and
  // written with a queue URL's password hidden.
  let held = '';
  if (json) silenceErrors(program);
  else
    holdErrors(program, (text) => {
      held += text;
    });
  try {
    await program.parseAsync(argv as string[]);
    return EXIT.ok;
  } catch (caught) {
    stopProgress();
    let error = caught;
    if (caught instanceof CommanderError) {
      if (held) process.stderr.write(hideUrlPassword(held));
      if (caught.exitCode === 0) return EXIT.ok;
      if (!json) return EXIT.usage;
      const message = caught.code === 'commander.help' ? 'no command given' : hideUrlPassword(caught.message.replace(/^error: /, ''));
      error = new HyperprotoError(ErrorCode.InvalidOptions, message, { hint: 'Run with --help for usage.' });
    }
    if (!json) process.stderr.write(`${terminalText(describeError(error))}\n`);
    // A result already on stdout carries its error (experiment's failed runs): one object only.
    else if (!hasResult()) process.stdout.write(`${JSON.stringify(errorJson(error))}\n`);
    return exitCodeFor(error);
  }
}

function holdErrors(command: Command, hold: (text: string) => void): void {
  command.configureOutput({ writeErr: hold, outputError: (text, write) => write(text) });
  for (const sub of command.commands) holdErrors(sub, hold);
}

function silenceErrors(command: Command): void {
  command.configureOutput({ writeErr: () => {}, outputError: () => {} });
  for (const sub of command.commands) silenceErrors(sub);
}
