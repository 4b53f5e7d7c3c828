import { Command, CommanderError } from 'commander';
import { registerAllInOneCommand } from './commands/all-in-one.ts';
import { registerContainerdConfigCommand } from './commands/containerd-config.ts';
import { registerGetCommand } from './commands/get.ts';
import { registerPeerCommand } from './commands/peer.ts';
import { registerPreheatCommand } from './commands/preheat.ts';
import { registerRegistriesConfigCommand } from './commands/registries-config.ts';
import { registerSchedulerCommand } from './commands/scheduler.ts';
import { ConfigError } from './config.ts';
import { InterruptedError } from './run.ts';

/** Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error. */
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success (a daemon stopped by SIGINT or SIGTERM exits 0)
  1  runtime failure, e.g. a port in use, an unwritable directory, a failed start
  2  usage or configuration error: unknown option, invalid value, bad config file
  130, 143  shoal get stopped by SIGINT, SIGTERM (its partial downloads removed)

Every option can also come from a YAML file (--config or SHOAL_CONFIG; keys in camelCase)
or a SHOAL_* environment variable (--cache-size: SHOAL_CACHE_SIZE; lists comma-separated).
Precedence: flag > environment > file > default. name=value options (--registry-endpoint, --label,
--server) add up instead: each source adds its pairs to the file's mapping, the higher one winning per name.`;

const program = new Command()
  .name('shoal')
  .description('Peer-to-peer container image distribution: a verified node-local registry mirror')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Examples:
  shoal peer --registry 127.0.0.1:5050 --default-registry docker.io
  shoal scheduler --listen /ip4/0.0.0.0/tcp/4600 --http 0.0.0.0:9600
  shoal all-in-one --default-registry docker.io
  shoal containerd-config --registry docker.io --endpoint http://127.0.0.1:5050
  shoal registries-config --registry docker.io --registry quay.io --endpoint http://127.0.0.1:5050
  shoal preheat docker.io/library/alpine:3.20 --scheduler-http http://127.0.0.1:9600 --scope all
  shoal get docker.io/library/alpine:3.20 -o ./alpine
  shoal help peer`,
  )
  .addHelpText('afterAll', EXIT_CODES_HELP);
registerPeerCommand(program);
registerSchedulerCommand(program);
registerAllInOneCommand(program);
registerContainerdConfigCommand(program);
registerRegistriesConfigCommand(program);
registerPreheatCommand(program);
registerGetCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else if (error instanceof InterruptedError) {
    process.stderr.write(`shoal: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`shoal: ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
  } else {
    process.stderr.write(`shoal: ${(error as Error).message}\n`);
    process.exitCode = EXIT_RUNTIME;
  }
}
