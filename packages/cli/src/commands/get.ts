import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  DEFAULT_PLATFORM,
  type Descriptor,
  type Digest,
  digestHex,
  formatPlatform,
  formatReference,
  type ImageReference,
  parsePlatform,
  parseReference,
  RegistryClient,
  resolveImage,
  type Upstream,
} from '@shoal/oci';
import type { Command } from 'commander';
import { z } from 'zod';
import { downloadBlob, hasBlob } from '../blob-download.ts';
import { ConfigError, type OptionSpec, resolveConfig } from '../config.ts';
import { DOCKER_CONFIG_DEFAULT_TEXT, upstreamCredentials } from '../docker-config.ts';
import { formatDuration } from '../durations.ts';
import { LayoutError, OciLayout } from '../oci-layout.ts';
import { booleanFlag } from '../options.ts';
import { createProgress } from '../progress.ts';
import { abortOnSignals, addOptions, configPath, InterruptedError } from '../run.ts';
import { formatSize } from '../sizes.ts';

export const getOptions: readonly OptionSpec[] = [
  {
    key: 'output',
    arg: '<path>',
    description: 'directory of the OCI layout to write (created, or added to); with --blob, the file',
  },
  {
    key: 'endpoint',
    arg: '<url>',
    description: "a shoal peer's registry endpoint to download through",
    default: 'http://127.0.0.1:5050',
  },
  {
    key: 'platform',
    arg: '<os/arch[/variant]>',
    description: 'the platform to take from a multi-platform image',
    defaultText: formatPlatform(DEFAULT_PLATFORM),
  },
  {
    key: 'blob',
    arg: '',
    description: 'download the one blob <name>@sha256:… names (a layer or config) to the --output file',
    switch: true,
    default: false,
  },
  {
    key: 'dockerConfig',
    arg: '<file>',
    description: 'docker config.json with credentials for private registries',
    defaultText: DOCKER_CONFIG_DEFAULT_TEXT,
  },
];

/** The options' values, checked and parsed; their defaults are the specs' (getOptions). */
export const getSchema = z.strictObject({
  output: z.string({ error: 'required: where to write, e.g. -o ./alpine' }).min(1),
  endpoint: z
    .string()
    .transform((value) => (/^https?:\/\//.test(value) ? value : `http://${value}`))
    .pipe(z.url({ protocol: /^https?$/, error: 'expected http(s)://host:port, e.g. http://127.0.0.1:5050' }))
    .transform((url) => url.replace(/\/+$/, '')),
  platform: z
    .string()
    .transform((value, ctx) => {
      try {
        return parsePlatform(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  blob: booleanFlag,
  dockerConfig: z.string().optional(),
});

type GetConfig = z.output<typeof getSchema>;

/** Blobs downloaded at once. */
const CONCURRENCY = 3;

export function registerGetCommand(program: Command): void {
  const command = program
    .command('get')
    .argument('<reference>', 'image reference (name:tag or name@sha256:…), or with --blob name@sha256:<blob>')
    .description("download an image (an OCI layout) or one blob through a shoal peer's endpoint")
    .addHelpText(
      'after',
      `
Every manifest and blob is checked against its digest as it streams in and only then put under its
name; a blob already in the layout is checked and kept. The layout holds the image manifest of one
platform, listed in index.json under the tag, which skopeo, umoci and others read
(e.g. skopeo copy oci:<dir>:<tag> docker-archive:app.tar).

Examples:
  shoal get docker.io/library/alpine:3.20 -o ./alpine
  shoal get registry.example:5000/team/app:v2 -o ./app --platform linux/arm64
  shoal get ghcr.io/org/tool@sha256:4f5e… -o ./tool --endpoint http://10.0.0.7:5050
  shoal get --blob registry.example:5000/team/app@sha256:9b2c… -o layer.tar.gz
  skopeo copy oci:./alpine:3.20 docker-daemon:alpine:3.20`,
    );
  // --output also has the short form -o, which addOptions does not make.
  command.option('-o, --output <path>', getOptions[0]!.description);
  addOptions(
    command,
    getOptions.filter((spec) => spec.key !== 'output'),
  );
  command.action(async (reference: string, flags: Record<string, unknown>) => {
    const config = resolveConfig(getSchema, getOptions, flags, process.env, configPath(flags));
    let ref: ImageReference;
    try {
      ref = parseReference(reference);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    if (config.blob && !ref.digest) {
      throw new ConfigError(`--blob needs a digest: <name>@sha256:<64 hex>, not "${reference}"`);
    }
    const credentials = await upstreamCredentials(config.dockerConfig);
    const client = new RegistryClient(credentials ? { credentials } : {});
    const upstream: Upstream = { registry: ref.registry, url: config.endpoint, viaMirror: true };
    // Stopped midway, downloads in flight are aborted and their temporary files removed before exit.
    const interrupt = abortOnSignals();
    try {
      if (config.blob) await getBlob(client, upstream, ref, config, interrupt.signal);
      else await getImage(client, upstream, ref, config, interrupt.signal);
    } catch (error) {
      const signal = interrupt.received();
      if (signal) throw new InterruptedError(signal, 'partial downloads removed');
      throw error;
    } finally {
      interrupt.dispose();
      await client.close();
    }
  });
}

async function getImage(
  client: RegistryClient,
  upstream: Upstream,
  ref: ImageReference,
  config: GetConfig,
  interrupted: AbortSignal,
): Promise<void> {
  const started = Date.now();
  // A wrong output directory is a usage error, told before anything is downloaded.
  await OciLayout.check(config.output).catch((error: Error) => {
    throw error instanceof LayoutError ? new ConfigError(error.message) : error;
  });
  const image = await resolveImage(client, upstream, ref.repository, ref.digest ?? ref.tag!, {
    ...(config.platform ? { platform: config.platform } : {}),
  });
  const layout = await OciLayout.open(config.output);
  const progress = createProgress();
  const total = image.blobs.reduce((sum, blob) => sum + blob.size, 0);
  let done = 0;
  let blobsDone = 0;
  const show = () =>
    progress.update(done, total, `${blobsDone}/${image.blobs.length} blobs of ${formatReference(ref)}`);
  show();
  const queue = [...image.blobs];
  // The first failure stops the other downloads; each removes its temporary file before settling.
  const failed = new AbortController();
  const signal = AbortSignal.any([interrupted, failed.signal]);
  const worker = async () => {
    for (let blob = queue.shift(); blob && !signal.aborted; blob = queue.shift()) {
      const onBytes = (bytes: number) => {
        done += bytes;
        show();
      };
      try {
        await fetchLayoutBlob(client, upstream, ref.repository, layout, blob, onBytes, signal);
      } catch (error) {
        if (!signal.aborted) failed.abort(error);
        throw error;
      }
      blobsDone++;
      show();
    }
  };
  try {
    await Promise.allSettled(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  } finally {
    progress.stop();
  }
  if (signal.aborted) throw failed.signal.aborted ? failed.signal.reason : interrupted.reason;
  // Manifest last: a layout never names an image whose blobs are not all there.
  const { manifest } = image;
  await layout.putBlob(manifest.digest, manifest.bytes);
  await layout.addToIndex(
    {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.bytes.length,
      ...(image.platform ? { platform: image.platform } : {}),
    },
    ref.tag,
  );
  const platform = image.platform ? `, ${formatPlatform(image.platform)}` : '';
  process.stdout.write(
    `wrote ${formatReference(ref)} (${manifest.digest}${platform}) to ${resolve(layout.dir)}: ` +
      `${image.blobs.length} blobs, ${formatSize(total)}, in ${formatDuration(Date.now() - started)}\n`,
  );
}

/** One blob into the layout, unless an intact copy is there already. */
async function fetchLayoutBlob(
  client: RegistryClient,
  upstream: Upstream,
  repository: string,
  layout: OciLayout,
  blob: Descriptor,
  onBytes: (bytes: number) => void,
  signal: AbortSignal,
): Promise<void> {
  const path = layout.blobPath(blob.digest);
  if (await hasBlob(path, blob.digest, blob.size)) {
    onBytes(blob.size);
    return;
  }
  await downloadBlob(client, upstream, repository, {
    digest: blob.digest,
    size: blob.size,
    path,
    onBytes,
    signal,
  });
}

async function getBlob(
  client: RegistryClient,
  upstream: Upstream,
  ref: ImageReference,
  config: GetConfig,
  signal: AbortSignal,
): Promise<void> {
  const started = Date.now();
  const digest = ref.digest as Digest;
  // An existing directory gets the blob under its digest's name.
  const isDirectory = await stat(config.output).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const path = resolve(isDirectory ? join(config.output, digestHex(digest)) : config.output);
  const progress = createProgress();
  let total = 0;
  let done = 0;
  let size: number;
  try {
    size = await downloadBlob(client, upstream, ref.repository, {
      digest,
      path,
      signal,
      onSize: (bytes) => {
        total = bytes;
        progress.update(0, total, digest);
      },
      onBytes: (bytes) => {
        done += bytes;
        progress.update(done, Math.max(total, done), digest);
      },
    });
  } finally {
    progress.stop();
  }
  process.stdout.write(
    `wrote ${digest} (${formatSize(size)}) to ${path} in ${formatDuration(Date.now() - started)}\n`,
  );
}
