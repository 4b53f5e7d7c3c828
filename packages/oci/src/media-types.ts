/** Media types shoal understands. Anything else is passed through as opaque content. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
];

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

export function isManifestMediaType(mediaType: string): boolean {
  return MANIFEST_MEDIA_TYPES.includes(mediaType);
}

/** Accept header a mirror sends upstream when the client did not say what it accepts. */
export const DEFAULT_MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, '*/*'].join(', ');

/**
 * Accept header to send upstream for a client's: registries (distribution 2.8)
 * refuse an OCI manifest to the any-type wildcard alone, so when the client names no manifest
 * type the known ones are added.
 */
export function manifestAcceptFor(clientAccept: string | undefined): string {
  if (!clientAccept) return DEFAULT_MANIFEST_ACCEPT;
  return MANIFEST_MEDIA_TYPES.some((type) => clientAccept.includes(type))
    ? clientAccept
    : `${MANIFEST_MEDIA_TYPES.join(', ')}, ${clientAccept}`;
}
