// The help of every command: an Examples section of its own commands, the built-in names it lists taken whole from
// the registry, the limits the parsers enforce, and defaults written one way.
import { builtinPlugins } from '@hyperproto/builtin-plugins';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './main.js';
import { MAX_THREADS } from './thread-budget.js';

/** Every command that does something (not `data` or `new`, which only group their subcommands), by its words. */
function commands(command: Command, path: string[] = []): [string, Command][] {
  const own: [string, Command][] = path.length && command.options.length ? [[path.join(' '), command]] : [];
  return [...own, ...command.commands.flatMap((sub) => commands(sub, [...path, sub.name()]))];
}

/** The whole of `hyperproto <command> --help`, the text added after the options included. */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), getOutHelpWidth: () => 1000 });
  command.outputHelp();
  return text;
}

const all = commands(buildProgram());
const names = (kind: string) => builtinPlugins.filter((plugin) => plugin.kind === kind).map((plugin) => plugin.name);

describe('--help of every command', () => {
  it('finds the commands', () => {
    expect(all.map(([path]) => path)).toEqual(
      expect.arrayContaining([
        'train',
        'prototypes',
        'prototypes inspect',
        'data inspect',
        'plugins',
        'doctor',
        'export',
        'predict',
        'serve',
      ]),
    );
    expect(all.map(([path]) => path)).toEqual(expect.arrayContaining(['new plugin', 'experiment', 'worker', 'report']));
  });

  it.each(all)('%s has an Examples section of its own command', (path, command) => {
    const help = helpOf(command);
    // The section: from "Examples:" to the next blank line (`new plugin` goes on with what to do in the package).
    const section = help.split(/^Examples:\n/m)[1]?.split(/\n\s*\n/)[0];
    expect(section, help).toBeDefined();
    const lines = section!.split('\n').filter((line) => line.trim());
    expect(lines.length, help).toBeGreaterThanOrEqual(2);
    // Each line runs this command, after variables set for it (HYPERPROTO_QUEUE_URL=...); a comment may follow.
    for (const line of lines) expect(line).toMatch(new RegExp(`^  \\$ ([A-Z_]+=("[^"]*"|\\S+) )*hyperproto ${path}( |$)`));
  });

  it.each(all)('%s writes defaults one way, "(default: X)"', (path, command) => {
    for (const text of command.options.map((o) => o.description)) expect(text, path).not.toMatch(/\(default [^:]/);
  });
});

describe('the names and limits help gives', () => {
  const help = (path: string) => helpOf(all.find(([p]) => p === path)![1]);
  const optionLine = (path: string, flag: string) =>
    help(path)
      .split('\n')
      .find((line) => line.trimStart().startsWith(`${flag} `)) ?? '';

  it('prototypes --strategy and train --prototypes name every built-in prototype strategy', () => {
    const strategies = names('prototypes');
    expect(strategies.length).toBeGreaterThan(3);
    for (const strategy of strategies) {
      expect(optionLine('prototypes', '--strategy')).toContain(strategy);
      expect(optionLine('train', '--prototypes')).toContain(strategy);
    }
  });

  it('train --engine names every built-in engine', () => {
    for (const engine of names('engine')) expect(optionLine('train', '--engine')).toContain(engine);
  });

  it.each([
    ['train', '--hidden-layers', '1 to 16'],
    ['prototypes', '--classes', '2 or more'],
    ['prototypes inspect', '--bins', '1 to 255'],
    ['prototypes inspect', '--bins', '(default: 200)'],
    ['worker', '--concurrency', '1 to 256'],
    ['worker', '--threads', `1 to ${MAX_THREADS}`],
    ['predict', '--threads', `1 to ${MAX_THREADS}`],
    ['serve', '--threads', `1 to ${MAX_THREADS}`],
    ['serve', '--max-delay-ms', '0 to 1000'],
    ['serve', '--body-limit', '1024 or more'],
    ['serve', '--shutdown-timeout', '0.001 to 3600'],
    ['serve', '--headers-timeout', '0.001 to 3600'],
    ['serve', '--request-timeout', '0.001 to 3600'],
    ['serve', '--keep-alive-timeout', '0.001 to 3600'],
    ['serve', '--idle-timeout', '0.001 to 3600'],
  ])('%s %s says %s', (path, flag, text) => {
    expect(optionLine(path, flag)).toContain(text);
  });
});
