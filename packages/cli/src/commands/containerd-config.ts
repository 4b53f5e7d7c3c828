import type { Command } from 'commander';
import { z } from 'zod';
import { type OptionSpec, resolveConfig } from '../config.ts';
import { checkContainerdReadsHosts } from '../containerd-cri-check.ts';
import {
  ALL_REGISTRIES,
  describeChange,
  type HostsChange,
  installHostsToml,
  removeHostsToml,
  upstreamServer,
} from '../containerd-hosts.ts';
import { booleanFlag, registryEndpoints, registryName } from '../options.ts';
import { addOptions, configPath } from '../run.ts';

export const containerdConfigOptions: readonly OptionSpec[] = [
  {
    key: 'registry',
    arg: '<name>',
    description:
      'registry whose pulls go through the peer, as written in image names, e.g. docker.io (repeatable)',
    repeatable: true,
  },
  {
    key: 'endpoint',
    arg: '<url>',
    description: "the peer's registry endpoint as containerd reaches it, e.g. http://127.0.0.1:5050",
  },
  {
    key: 'dir',
    arg: '<dir>',
    description: "containerd's hosts directory (CRI config_path, ctr --hosts-dir)",
    default: '/etc/containerd/certs.d',
  },
  {
    key: 'server',
    arg: '<name=url>',
    description:
      "a registry's own address when it is not https://<name> (docker.io: https://registry-1.docker.io) (repeatable)",
    repeatable: true,
    pairs: true,
    default: {},
  },
  {
    key: 'containerdConfig',
    arg: '<file>',
    description:
      "containerd's config.toml, checked (containerd config dump) to make its CRI plugin read --dir; none: no check",
    default: '/etc/containerd/config.toml',
  },
  {
    key: 'remove',
    arg: '',
    description: 'undo: restore the hosts.toml that was there before, or delete the one written',
    switch: true,
    default: false,
  },
];

/** The options' values, checked and parsed; their defaults are the specs' (containerdConfigOptions). */
export const containerdConfigSchema = z
  .strictObject({
    registry: z
      .array(z.union([z.literal(ALL_REGISTRIES), registryName]))
      .min(1, 'required: at least one registry, e.g. --registry docker.io')
      .prefault([]),
    endpoint: z
      .string()
      .regex(/^https?:\/\/[^/\s]+\/?$/, 'expected http(s)://host:port, e.g. http://127.0.0.1:5050')
      .transform((url) => url.replace(/\/+$/, ''))
      .optional(),
    dir: z.string().min(1),
    server: registryEndpoints,
    containerdConfig: z.string().min(1),
    remove: booleanFlag,
  })
  .superRefine((config, ctx) => {
    if (!config.remove && config.endpoint === undefined) {
      ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'required (unless --remove)' });
    }
  });

export type ContainerdConfig = z.output<typeof containerdConfigSchema>;

/** Writes (or with `remove`, undoes) DIR/<registry>/hosts.toml for every registry. */
export async function applyContainerdConfig(config: ContainerdConfig): Promise<HostsChange[]> {
  const changes: HostsChange[] = [];
  for (const registry of config.registry) {
    changes.push(
      config.remove
        ? await removeHostsToml(config.dir, registry)
        : await installHostsToml({
            registry,
            server: registry === ALL_REGISTRIES ? '' : upstreamServer(registry, config.server),
            endpoint: config.endpoint!,
            dir: config.dir,
          }),
    );
  }
  return changes;
}

export function registerContainerdConfigCommand(program: Command): void {
  const command = program
    .command('containerd-config')
    .description(
      "point containerd at the peer: writes <dir>/<registry>/hosts.toml with the peer's endpoint as mirror",
    )
    .addHelpText(
      'after',
      `
Each file keeps the registry itself as "server", so containerd falls back to it when the peer is
down or answers an error. --registry _default writes containerd's fallback directory, used for
every registry without a directory of its own. A hosts.toml that was already there is merged: the
peer first, then its own hosts in their order; the original is kept as hosts.toml.shoal-backup and
put back by --remove. Files are replaced atomically; containerd reads them on every pull.
containerd's CRI plugin reads the directory only when its config.toml has (containerd 1.x)
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
or (containerd 2.x) [plugins.'io.containerd.cri.v1.images'.registry] config_path = "...", one
directory (containerd 2.1's transfer service does not read a list); this is checked first with
containerd config dump, and nothing is written when pulls would bypass the peer.

Examples:
  shoal containerd-config --registry docker.io --registry ghcr.io --endpoint http://127.0.0.1:5050
  shoal containerd-config --registry _default --endpoint http://127.0.0.1:5050
  shoal containerd-config --registry registry.example:5000 --endpoint http://127.0.0.1:5050 \\
      --server registry.example:5000=http://registry.example:5000
  shoal containerd-config --remove --registry docker.io --registry ghcr.io
  SHOAL_REGISTRY=docker.io,quay.io SHOAL_ENDPOINT=http://127.0.0.1:5050 shoal containerd-config
  ctr images pull --hosts-dir /etc/containerd/certs.d docker.io/library/alpine:3.20`,
    );
  addOptions(command, containerdConfigOptions);
  command.action(async (flags: Record<string, unknown>) => {
    const config = resolveConfig(
      containerdConfigSchema,
      containerdConfigOptions,
      flags,
      process.env,
      configPath(flags),
    );
    if (!config.remove && config.containerdConfig !== 'none') {
      // Files the CRI plugin never reads would leave every kubelet pull going around the peer.
      const check = await checkContainerdReadsHosts(config.containerdConfig, config.dir);
      if (!check.ok)
        throw new Error(`${check.problem}\nNothing written (--containerd-config none skips this check).`);
      if (check.note) process.stderr.write(`note: ${check.note}\n`);
    }
    for (const change of await applyContainerdConfig(config)) {
      const line = `${describeChange(change)}\n`;
      if (change.action === 'foreign') process.stderr.write(line);
      else process.stdout.write(line);
    }
  });
}
