import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { describeError, exitCodeFor, EXIT } from './exit-codes.js';

export interface GlobalOptions {
  json?: boolean;
  quiet?: boolean;
  plugin?: string[];
  config?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}.`);
    return n;
  };
}

export function decimal(check: (n: number) => boolean, expected: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`expected ${expected}.`);
    return n;
  };
}

/** Adds the options every command shares. */
function withGlobals(command: Command): Command {
  return command
    .option('--json', 'print one JSON object on stdout (for scripts); no progress bars')
    .option('-q, --quiet', 'no messages or progress on stderr')
    .option('--plugin <specifier>', 'load a plugin package or ./path (repeatable)', collect)
    .option('--config <file>', 'config file (default: hyperproto.config.{json,mjs,js} in the current directory)');
}

export function buildProgram(): Command {
  const program = new Command('hyperproto')
    .description('Softmax vs hyperspherical prototype classifiers: data, prototypes, training, evaluation.')
    .version(process.env.npm_package_version ?? '0.1.0', '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    // `prototypes` has options of its own and a subcommand: options after `inspect` belong to `inspect`.
    .enablePositionalOptions()
    .exitOverride();

  withGlobals(
    program
      .command('train')
      .description('train one classifier on the seed\'s Gaussian data, evaluate it, and save the model and metrics')
      .requiredOption('--classes <n>', 'number of classes', integer(2))
      .addOption(new Option('--head <name>', 'classifier head: softmax or hpn (or a plugin head)').default('softmax'))
      .option('--prototypes <strategy|file.npy>', 'prototype strategy (random, optimized, tammes, ...) or a .npy file, for heads that use prototypes (default: optimized)')
      .option('--dims <d>', 'prototype dimensions (default: the number of classes)', integer(1))
      .option('--prototype-option <key=value>', 'an option of the prototype strategy (repeatable), e.g. steps=500', collect)
      .option('--seed <n>', 'random seed: the same seed gives the same numbers', integer(0), 0)
      .option('--out <dir>', 'output directory (default: runs/<head>-c<classes>-s<seed>)')
      .option('--force', 'replace --out if it already holds a run')
      .option('--dataset <name>', 'dataset plugin', 'gaussian')
      .option('--sigma <s>', 'noise standard deviation (default: the seed\'s Table 1 for 10, 100, 1000 classes)', decimal((n) => n > 0, 'a positive number'))
      .option('--train-per-class <n>', 'training samples per class (default 500)', integer(1))
      .option('--validation-per-class <n>', 'validation samples per class (default 100)', integer(1))
      .option('--test-per-class <n>', 'test samples per class (default 200)', integer(1))
      .option('--hidden-units <n>', 'units per hidden layer (default 300)', integer(1))
      .option('--hidden-layers <n>', 'hidden layers (default 2)', integer(1, 16))
      .option('--dropout <rate>', 'dropout rate in [0, 1) (default 0.3)', decimal((n) => n >= 0 && n < 1, 'a number in [0, 1)'))
      .option('--batch-size <n>', 'mini-batch size (default 128)', integer(1))
      .option('--learning-rate <lr>', 'Adam learning rate (default 0.001)', decimal((n) => n > 0, 'a positive number'))
      .option('--patience <n>', 'epochs without validation improvement before stopping (default 10)', integer(1))
      .option('--max-epochs <n>', 'upper bound on epochs (default 200)', integer(1))
      .option('--engine <name>', 'training engine (default: the fastest available)'),
  ).action(async (options) => (await import('./commands/train.js')).trainCommand(options));

  const prototypes = withGlobals(
    program
      .command('prototypes')
      .description('make a prototype set and save it as .npy (float32 [classes, dims]); see also `prototypes inspect`')
      .option('--strategy <name>', 'prototype strategy: random, optimized, tammes, or a plugin\'s')
      .option('--classes <n>', 'number of prototypes', integer(2))
      .option('--dims <d>', 'dimensions', integer(1))
      .option('--seed <n>', 'random seed', integer(0), 0)
      .option('--option <key=value>', 'a strategy option (repeatable), e.g. steps=500', collect)
      .option('--out <file.npy>', 'where to write the prototypes')
      .enablePositionalOptions(),
  ).action(async (options) => (await import('./commands/prototypes.js')).generatePrototypesCommand(options));

  withGlobals(
    prototypes
      .command('inspect')
      .description('exact separation statistics of a prototype file: largest cosine, mean nearest-neighbour cosine, norm deviation')
      .argument('<file.npy>', 'prototype file, float32 [classes, dims]'),
  ).action(async (file, options) => (await import('./commands/prototypes.js')).inspectPrototypesCommand(file, options));

  withGlobals(
    program
      .command('plugins')
      .description('list every registered plugin by kind, with its options')
      .option('--kind <kind>', 'only this kind: dataset, prototypes, head, evaluator, engine'),
  ).action(async (options) => (await import('./commands/plugins.js')).pluginsCommand(options));

  withGlobals(program.command('doctor').description('show the runtime: Node.js, the TensorFlow.js backend in use and why others were skipped, the engines')).action(
    async (options) => (await import('./commands/doctor.js')).doctorCommand(options),
  );

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help / version).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`${describeError(error)}\n`);
    return exitCodeFor(error);
  }
}
