import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import {
  COMMAND_REFERENCES,
  configReferenceMarkdown,
  extractReferenceSection,
  REFERENCE_END,
  REFERENCE_START,
  replaceReferenceSection,
} from '../src/config-reference.ts';
import { COMMAND_SCHEMAS } from './command-schemas.ts';

const README = resolve(import.meta.dirname, '../../../README.md');

describe('configuration reference', () => {
  it("README.md's section is the generated one (run: node scripts/gen-config-reference.ts --write)", async () => {
    const readme = await readFile(README, 'utf8');
    const section = extractReferenceSection(readme);
    assert.ok(section !== undefined, `README.md must contain ${REFERENCE_START} ... ${REFERENCE_END}`);
    assert.equal(
      section,
      configReferenceMarkdown(),
      'README.md is out of date: run node scripts/gen-config-reference.ts --write',
    );
  });

  it('lists exactly the options each command accepts', () => {
    const schemas = COMMAND_SCHEMAS;
    for (const { command, options } of COMMAND_REFERENCES) {
      const schema = schemas[command];
      assert.ok(schema, `no schema for ${command}`);
      const keys = options.map((o) => o.key);
      assert.equal(new Set(keys).size, keys.length, `${command}: duplicate option keys`);
      assert.deepEqual(
        [...keys].sort(),
        Object.keys(schema.shape).sort(),
        `${command}: specs and schema differ`,
      );
      for (const spec of options) {
        assert.ok(spec.description.length > 0, `${command} ${spec.key}: no description`);
      }
    }
  });

  it('replaces only the text between the markers', () => {
    const readme = `# title\n\nbefore\n${REFERENCE_START}\nstale\n${REFERENCE_END}\nafter\n`;
    const updated = replaceReferenceSection(readme, 'fresh\n');
    assert.equal(updated, `# title\n\nbefore\n${REFERENCE_START}\nfresh\n${REFERENCE_END}\nafter\n`);
    assert.equal(extractReferenceSection(updated), 'fresh\n');
    assert.throws(() => replaceReferenceSection('no markers', 'x'), /no <!-- config-reference:start -->/);
  });

  it('escapes table separators in descriptions', () => {
    const text = configReferenceMarkdown([
      {
        command: 'demo',
        summary: 'a demo',
        options: [{ key: 'fooBar', arg: '<a|b>', description: 'one | two', defaultText: 'x' }],
      },
    ]);
    assert.deepEqual(text.split('\n').slice(-4), [
      '| flag               | YAML key | environment     | default | description |',
      '| ------------------ | -------- | --------------- | ------- | ----------- |',
      '| `--foo-bar <a\\|b>` | `fooBar` | `SHOAL_FOO_BAR` | `x`     | one \\| two  |',
      '',
    ]);
  });
});
