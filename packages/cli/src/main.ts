import { Command, CommanderError } from 'commander';
import { registerPeerCommand } from './commands/peer.ts';
import { registerSchedulerCommand } from './commands/scheduler.ts';
import { ConfigError } from './config.ts';

/** Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error. */
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

const program = new Command()
  .name('shoal')
  .description('Peer-to-peer container image distribution: a verified node-local registry mirror')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();
registerPeerCommand(program);
registerSchedulerCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`shoal: ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
  } else {
    process.stderr.write(`shoal: ${(error as Error).message}\n`);
    process.exitCode = EXIT_RUNTIME;
  }
}
