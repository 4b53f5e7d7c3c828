import type { ComponentLogger, Logger } from '@libp2p/interface';

const ignore = (): void => {};

const silent: Logger = Object.assign(ignore, {
  error: ignore,
  trace: ignore,
  enabled: false,
  newScope: (): Logger => silent,
});

/**
 * libp2p's logger for when its debug output is off (DEBUG unset): one logger
 * that does nothing. libp2p makes loggers per connection and per stream, and
 * its default builds a `debug` instance for each even when nothing is printed
 * (asking each time whether stderr is a terminal): about 1% of a scheduler's
 * CPU, which opens a stream for every peer's liveness ping.
 */
export const silentLogger: ComponentLogger = { forComponent: () => silent };
