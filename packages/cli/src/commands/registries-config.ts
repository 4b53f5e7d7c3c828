import { registryPathComponent } from '@shoal/oci';
import type { Command } from 'commander';
import { z } from 'zod';
import { type OptionSpec, resolveConfig } from '../config.ts';
import { describeManagedChange } from '../managed-file.ts';
import { booleanFlag, registryEndpoints, registryName } from '../options.ts';
import { installDropIn, removeDropIn } from '../registries-conf.ts';
import { addOptions, configPath } from '../run.ts';

export const registriesConfigOptions: readonly OptionSpec[] = [
  {
    key: 'registry',
    arg: '<name>',
    description:
      'registry whose pulls go through the peer, as written in image names, e.g. quay.io (repeatable)',
    repeatable: true,
  },
  {
    key: 'endpoint',
    arg: '<url>',
    description: "the peer's registry endpoint as the clients reach it, e.g. http://127.0.0.1:5050",
  },
  {
    key: 'dir',
    arg: '<dir>',
    description: 'registries.conf.d directory of podman, CRI-O, buildah and skopeo',
    default: '/etc/containers/registries.conf.d',
  },
  {
    key: 'server',
    arg: '<name=url>',
    description:
      "a registry's own address when it is not https://<name>; http:// marks it insecure (repeatable)",
    repeatable: true,
    default: {},
  },
  {
    key: 'remove',
    arg: '',
    description: 'undo: restore the file that was there before, or delete the one written',
    switch: true,
    default: false,
  },
];

/** A registry name containers/image can carry in a mirror path (no IPv6 address). */
function mirrorPathWritable(registry: string, ctx: z.RefinementCtx): void {
  try {
    registryPathComponent(registry);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
}

/** The options' values, checked and parsed; their defaults are the specs' (registriesConfigOptions). */
export const registriesConfigSchema = z
  .strictObject({
    registry: z.array(registryName.superRefine(mirrorPathWritable)).prefault([]),
    endpoint: z
      .string()
      .regex(/^https?:\/\/[^/\s]+\/?$/, 'expected http(s)://host:port, e.g. http://127.0.0.1:5050')
      .transform((url) => url.replace(/\/+$/, ''))
      .optional(),
    dir: z.string().min(1),
    server: registryEndpoints,
    remove: booleanFlag,
  })
  .superRefine((config, ctx) => {
    if (config.remove) return;
    if (config.endpoint === undefined) {
      ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'required (unless --remove)' });
    }
    if (config.registry.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['registry'],
        message: 'required (unless --remove): at least one registry, e.g. --registry docker.io',
      });
    }
  });

export type RegistriesConfig = z.output<typeof registriesConfigSchema>;

export function registerRegistriesConfigCommand(program: Command): void {
  const command = program
    .command('registries-config')
    .description(
      'point podman, CRI-O, buildah and skopeo at the peer: writes <dir>/shoal.conf with the peer as mirror',
    )
    .addHelpText(
      'after',
      `
Each registry gets a [[registry]] entry whose mirror location carries the registry's name
(127.0.0.1:5050/quay.io; a port is written registry.example_5000), which containers/image puts in
front of every repository it asks for: that is how the peer knows which registry a request is for.
The registry itself stays the location, so clients fall back to it when the peer is down or answers
an error. An entry for the same prefix in registries.conf or an earlier drop-in is replaced by this
one (entries are not merged). A shoal.conf that was there before is kept as shoal.conf.shoal-backup
and put back by --remove. containers/image has no entry for "every registry" that keeps the
registry's name: list each one. Clients read the directory on every pull.

Examples:
  shoal registries-config --registry docker.io --registry quay.io --endpoint http://127.0.0.1:5050
  shoal registries-config --registry registry.example:5000 --endpoint http://127.0.0.1:5050 \\
      --server registry.example:5000=http://registry.example:5000
  shoal registries-config --remove
  podman pull quay.io/podman/hello:latest`,
    );
  addOptions(command, registriesConfigOptions);
  command.action(async (flags: Record<string, unknown>) => {
    const config = resolveConfig(
      registriesConfigSchema,
      registriesConfigOptions,
      flags,
      process.env,
      configPath(flags),
    );
    const change = config.remove
      ? await removeDropIn(config.dir)
      : await installDropIn({
          registries: config.registry,
          endpoint: config.endpoint!,
          servers: config.server,
          dir: config.dir,
        });
    const line = `${describeManagedChange('registries.conf.d', change, 'shoal registries-config')}\n`;
    if (change.action === 'foreign') process.stderr.write(line);
    else process.stdout.write(line);
  });
}
