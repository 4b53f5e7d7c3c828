import type { Logger } from '@shoal/telemetry';
import type { Command } from 'commander';
import { flagOf, type OptionSpec } from './config.ts';
import { defaultTextOf } from './option-defaults.ts';

/** Declares a command's options from its specs. No commander defaults: absent flags must not hide YAML or env values. */
export function addOptions(command: Command, specs: readonly OptionSpec[]): void {
  command.option(
    '--config <file>',
    'YAML file with any of these options (keys in camelCase); also SHOAL_CONFIG',
  );
  for (const spec of specs) {
    const shownDefault = defaultTextOf(spec);
    const description = `${spec.description}${shownDefault ? ` (default: ${shownDefault})` : ''}`;
    if (spec.switch) {
      command.option(flagOf(spec), description);
    } else if (spec.repeatable) {
      command.option(
        `${flagOf(spec)} ${spec.arg}`,
        description,
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      );
    } else {
      command.option(`${flagOf(spec)} ${spec.arg}`, description);
    }
  }
}

/** Keeps a service running until SIGINT or SIGTERM, then stops it once. */
export function runUntilSignal(logger: Logger, stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      stop()
        .catch((error: Error) => logger.error({ err: error }, 'error while stopping'))
        .finally(() => resolve());
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/** The --config flag, else SHOAL_CONFIG. */
export function configPath(flags: Record<string, unknown>): string | undefined {
  return (flags.config as string | undefined) ?? process.env.SHOAL_CONFIG;
}

/** The command was stopped by SIGINT or SIGTERM; it exits 128 + the signal's number, as shells expect. */
export class InterruptedError extends Error {
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals, cleanup: string) {
    super(`interrupted by ${signal}; ${cleanup}`);
    this.name = 'InterruptedError';
    this.exitCode = 128 + (signal === 'SIGINT' ? 2 : 15);
  }
}

/**
 * For a command that must clean up when stopped: SIGINT or SIGTERM aborts `signal` (a second one ends
 * the process at once). `dispose` removes the handlers.
 */
export function abortOnSignals(): {
  signal: AbortSignal;
  received(): NodeJS.Signals | undefined;
  dispose(): void;
} {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    received = signal;
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    received: () => received,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
