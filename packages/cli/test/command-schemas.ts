import type { z } from 'zod';
import { allInOneSchema } from '../src/commands/all-in-one.ts';
import { containerdConfigSchema } from '../src/commands/containerd-config.ts';
import { getSchema } from '../src/commands/get.ts';
import { peerSchema } from '../src/commands/peer.ts';
import { preheatSchema } from '../src/commands/preheat.ts';
import { registriesConfigSchema } from '../src/commands/registries-config.ts';
import { schedulerSchema } from '../src/commands/scheduler.ts';

/** Each command's schema, by the command name the configuration reference lists it under. */
export const COMMAND_SCHEMAS: Record<string, { shape: Record<string, z.ZodType> }> = {
  peer: peerSchema,
  scheduler: schedulerSchema,
  'all-in-one': allInOneSchema,
  'containerd-config': containerdConfigSchema,
  'registries-config': registriesConfigSchema,
  preheat: preheatSchema,
  get: getSchema,
};
