import { allInOneOptions } from './commands/all-in-one.ts';
import { containerdConfigOptions } from './commands/containerd-config.ts';
import { getOptions } from './commands/get.ts';
import { peerOptions } from './commands/peer.ts';
import { preheatOptions } from './commands/preheat.ts';
import { registriesConfigOptions } from './commands/registries-config.ts';
import { schedulerOptions } from './commands/scheduler.ts';
import { envOf, flagOf, type OptionSpec } from './config.ts';
import { defaultTextOf } from './option-defaults.ts';

export const REFERENCE_START = '<!-- config-reference:start -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

export interface CommandReference {
  command: string;
  summary: string;
  options: readonly OptionSpec[];
}

/** Every command with options, in the order the reference lists them. */
export const COMMAND_REFERENCES: readonly CommandReference[] = [
  { command: 'peer', summary: 'the peer daemon on every node', options: peerOptions },
  { command: 'scheduler', summary: 'the piece scheduler', options: schedulerOptions },
  {
    command: 'all-in-one',
    summary: 'a scheduler and a peer in one process, for one machine',
    options: allInOneOptions,
  },
  {
    command: 'containerd-config',
    summary: "writes containerd's hosts.toml files",
    options: containerdConfigOptions,
  },
  {
    command: 'registries-config',
    summary: 'writes the registries.conf.d drop-in of podman, CRI-O, buildah and skopeo',
    options: registriesConfigOptions,
  },
  { command: 'preheat', summary: 'has peers fetch an image ahead of pulls', options: preheatOptions },
  { command: 'get', summary: 'downloads an image or a blob through a peer', options: getOptions },
];

/** Text for a table cell: pipes escaped, one line. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A markdown table with padded columns, laid out as Biome formats markdown tables. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function code(text: string): string {
  return `\`${text}\``;
}

/** Markdown tables (flag, YAML key, environment variable, default, description) for every command. */
export function configReferenceMarkdown(commands: readonly CommandReference[] = COMMAND_REFERENCES): string {
  const lines: string[] = [
    'Generated from the option definitions by `node scripts/gen-config-reference.ts`; do not edit by hand.',
    'Every option is a flag, a key of the YAML file given with `--config <file>` (or `SHOAL_CONFIG`), and a',
    '`SHOAL_*` environment variable. Precedence: flag > environment > file > default. Repeatable options',
    'take a YAML list (or, for `name=value` options, a YAML mapping) and a comma-separated variable.',
    '`name=value` options add up across sources: a variable or flag adds its pairs to the YAML mapping',
    '(the higher source winning for a name it repeats) instead of replacing the whole mapping.',
  ];
  for (const { command, summary, options } of commands) {
    const rows = options.map((spec) => {
      const flag = spec.switch ? flagOf(spec) : `${flagOf(spec)} ${spec.arg}`;
      const description =
        spec.repeatable && !/repeatable/.test(spec.description)
          ? `${spec.description} (repeatable)`
          : spec.description;
      const shownDefault = defaultTextOf(spec);
      return [
        code(cell(flag)),
        code(spec.key),
        code(envOf(spec)),
        shownDefault ? code(cell(shownDefault)) : '',
        cell(description),
      ];
    });
    lines.push(
      '',
      `### \`shoal ${command}\` — ${summary}`,
      '',
      ...markdownTable(['flag', 'YAML key', 'environment', 'default', 'description'], rows),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The text between the reference markers of a README, or undefined when the markers are missing. */
export function extractReferenceSection(readme: string): string | undefined {
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + REFERENCE_START.length, end).replace(/^\n/, '');
}

/** The README with the section between the markers replaced by `generated`. */
export function replaceReferenceSection(readme: string, generated: string): string {
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  if (start < 0 || end < start) {
    throw new Error(`the README has no ${REFERENCE_START} ... ${REFERENCE_END} section`);
  }
  return `${readme.slice(0, start + REFERENCE_START.length)}\n${generated}${readme.slice(end)}`;
}
