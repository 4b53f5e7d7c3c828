// Prints the configuration reference (markdown tables of every command's options) generated from the
// option definitions in packages/cli/src/commands. With --write it replaces the section of README.md
// between <!-- config-reference:start --> and <!-- config-reference:end -->.
//   node scripts/gen-config-reference.ts            # print
//   node scripts/gen-config-reference.ts --write    # update README.md
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configReferenceMarkdown, replaceReferenceSection } from '../packages/cli/src/config-reference.ts';

const generated = configReferenceMarkdown();
if (process.argv.includes('--write')) {
  const readmePath = resolve(import.meta.dirname, '..', 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const updated = replaceReferenceSection(readme, generated);
  if (updated !== readme) writeFileSync(readmePath, updated);
  process.stdout.write(`${updated === readme ? 'unchanged' : 'updated'}: ${readmePath}\n`);
} else {
  process.stdout.write(generated);
}
