import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { peerOptions } from '../src/commands/peer.ts';
import type { OptionSpec } from '../src/config.ts';
import { COMMAND_REFERENCES, configReferenceMarkdown } from '../src/config-reference.ts';
import { defaultSourceValue, defaultTextOf } from '../src/option-defaults.ts';
import { addOptions } from '../src/run.ts';
import { COMMAND_SCHEMAS } from './command-schemas.ts';

const SPECS: OptionSpec[] = [
  { key: 'stallTimeout', arg: '<duration>', description: 'a duration', default: 30_000, unit: 'ms' },
  { key: 'bufferSize', arg: '<size>', description: 'a size', default: 8 * 2 ** 20, unit: 'bytes' },
  { key: 'slots', arg: '<n>', description: 'a count', default: 6 },
  {
    key: 'listen',
    arg: '<multiaddr>',
    description: 'a list',
    repeatable: true,
    default: ['/ip4/0.0.0.0/tcp/1'],
  },
  { key: 'quiet', arg: '', description: 'a switch', switch: true, default: false },
  { key: 'label', arg: '<k=v>', description: 'pairs', repeatable: true, pairs: true, default: {} },
  { key: 'keyFile', arg: '<file>', description: 'prose', defaultText: 'next to the binary' },
  { key: 'name', arg: '<name>', description: 'no default' },
];

function spec(key: string): OptionSpec {
  return SPECS.find((s) => s.key === key)!;
}

/** The --help lines of `specs`, one string. */
function helpOf(specs: readonly OptionSpec[]): string {
  const command = new Command('demo');
  addOptions(command, specs);
  return command.helpInformation();
}

describe('option defaults', () => {
  it('are shown as an option is written: durations, sizes, counts, lists, switches', () => {
    assert.equal(defaultTextOf(spec('stallTimeout')), '30s');
    assert.equal(defaultTextOf(spec('bufferSize')), '8MiB');
    assert.equal(defaultTextOf(spec('slots')), '6');
    assert.equal(defaultTextOf(spec('listen')), '/ip4/0.0.0.0/tcp/1');
    assert.equal(defaultTextOf(spec('quiet')), 'false');
    assert.equal(defaultTextOf({ ...spec('label'), default: { a: '1', b: '2' } }), 'a=1, b=2');
    assert.equal(defaultTextOf(spec('label')), undefined, 'an empty mapping shows no default');
    assert.equal(defaultTextOf(spec('keyFile')), 'next to the binary', 'defaultText is shown instead');
    assert.equal(defaultTextOf(spec('name')), undefined);
  });

  it('appear in --help as the spec has them', () => {
    const help = helpOf(SPECS).replace(/\s+/g, ' ');
    assert.match(help, /--stall-timeout <duration> a duration \(default: 30s\)/);
    assert.match(help, /--buffer-size <size> a size \(default: 8MiB\)/);
    assert.match(help, /--slots <n> a count \(default: 6\)/);
    assert.match(help, /--quiet a switch \(default: false\)/);
    assert.match(help, /--key-file <file> prose \(default: next to the binary\)/);
    assert.match(help, /--label <k=v> pairs --key-file/, 'no "(default: )" for an empty mapping');
    assert.match(help, /--name <name> no default -h/);
    const changed = helpOf([{ ...spec('stallTimeout'), default: 90 * 60_000 }]).replace(/\s+/g, ' ');
    assert.match(changed, /\(default: 90m\)/, 'follows the spec, not a text of its own');
  });

  it('appear in the configuration reference as the spec has them', () => {
    const rows = configReferenceMarkdown([{ command: 'demo', summary: 'a demo', options: SPECS }]).split(
      '\n',
    );
    const row = (flag: string) =>
      rows
        .find((line) => line.startsWith(`| \`${flag}`))!
        .split('|')[4]!
        .trim();
    assert.equal(row('--stall-timeout'), '`30s`');
    assert.equal(row('--buffer-size'), '`8MiB`');
    assert.equal(row('--listen'), '`/ip4/0.0.0.0/tcp/1`');
    assert.equal(row('--quiet'), '`false`');
    assert.equal(row('--key-file'), '`next to the binary`');
    assert.equal(row('--label'), '');
    const peerRows = configReferenceMarkdown([{ command: 'peer', summary: 'p', options: peerOptions }]);
    assert.match(peerRows, /`--reader-timeout <duration>` .* `60s` /);
    assert.match(peerRows, /`--cache-size <size>` .* `20GiB` /);
  });

  it("of every command are valid values of their option and read back as the spec's value", () => {
    const schemas = COMMAND_SCHEMAS;
    let checked = 0;
    for (const { command, options } of COMMAND_REFERENCES) {
      for (const option of options) {
        if (option.default === undefined) continue;
        const field = schemas[command]!.shape[option.key]!;
        const parsed = field.safeParse(defaultSourceValue(option));
        assert.ok(parsed.success, `${command} ${option.key}: default rejected: ${parsed.error?.message}`);
        // A duration given without unit 'ms' would read back 1000 times too long.
        assert.deepEqual(parsed.data, option.default, `${command} ${option.key}`);
        checked++;
      }
    }
    assert.ok(checked > 40, `only ${checked} defaults checked`);
  });
});
