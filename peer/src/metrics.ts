import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Values read when the metrics are scraped. */
export interface PeerGaugeSources {
  activeTasks(): number;
  storeBytes(): number;
  storeBlobs(): number;
  storeCapacity(): number;
  /** Schedulers given with --scheduler. */
  schedulersConfigured(): number;
  /** Schedulers this peer holds a session with now. */
  schedulersConnected(): number;
  sendBufferBytes(): number;
  sendWaiting(): number;
}

/** Every metric of the peer daemon, in one place. */
export function createPeerMetrics(registry: Registry, sources: PeerGaugeSources) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'shoal_endpoint_requests_total',
      help: 'Registry endpoint requests by route, method, status and cache result',
      labelNames: ['route', 'method', 'status', 'cache'] as const,
      registers,
    }),
    requestDuration: new Histogram({
      name: 'shoal_endpoint_request_duration_seconds',
      help: 'Time to answer a registry endpoint request, until the last byte',
      labelNames: ['route'] as const,
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60],
      registers,
    }),
    timeToFirstByte: new Histogram({
      name: 'shoal_endpoint_first_byte_seconds',
      help: 'Time from a blob request to its first body byte',
      labelNames: ['cache'] as const,
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
      registers,
    }),
    rangeBytesBeforeVerification: new Counter({
      name: 'shoal_endpoint_range_bytes_before_verification_total',
      help:
        'Bytes answered to Range requests of a blob still downloading, before its whole digest was verified: ' +
        "they carry the trust of the origin's own Range answer (pieces from peers are checked against the piece table)",
      registers,
    }),
    servedBytes: new Counter({
      name: 'shoal_endpoint_served_bytes_total',
      help: 'Blob bytes sent to clients, by whether they were already cached (hit) or still downloading (miss)',
      labelNames: ['cache'] as const,
      registers,
    }),
    downloadedBytes: new Counter({
      name: 'shoal_downloaded_bytes_total',
      help: 'Blob bytes fetched into this node, by source',
      labelNames: ['source'] as const,
      registers,
    }),
    uploadedBytes: new Counter({
      name: 'shoal_uploaded_bytes_total',
      help: 'Piece bytes sent to other peers',
      registers,
    }),
    pieces: new Counter({
      name: 'shoal_pieces_total',
      help:
        'Pieces fetched, by result (ok: from a parent and verified; origin; mismatch; unavailable; ' +
        'absent: the parent no longer holds it; ' +
        'superseded: a second fetch of one of the last pieces, dropped when the other landed first)',
      labelNames: ['result'] as const,
      registers,
    }),
    pieceFetchDuration: new Histogram({
      name: 'shoal_piece_fetch_duration_seconds',
      help: 'Time to fetch, verify and write one piece from a parent',
      buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    pieceStreams: new Counter({
      name: 'shoal_piece_streams_total',
      help: 'Piece fetches from parents by the stream they went on: opened for it, or reused from an earlier piece',
      labelNames: ['stream'] as const,
      registers,
    }),
    pieceRequests: new Counter({
      name: 'shoal_piece_requests_served_total',
      help: 'Piece requests from other peers, by answer',
      labelNames: ['status'] as const,
      registers,
    }),
    dhtOperations: new Counter({
      name: 'shoal_dht_operations_total',
      help: 'DHT operations (provide, withdraw, find_providers), by result',
      labelNames: ['operation', 'result'] as const,
      registers,
    }),
    activeTasks: new Gauge({
      name: 'shoal_active_tasks',
      help: 'Blob download tasks in progress on this node',
      registers,
      collect() {
        this.set(sources.activeTasks());
      },
    }),
    tasks: new Counter({
      name: 'shoal_tasks_total',
      help: 'Blob download tasks ended, by result',
      labelNames: ['result'] as const,
      registers,
    }),
    storeBytes: new Gauge({
      name: 'shoal_store_bytes',
      help: 'Bytes of blobs held, partials included',
      registers,
      collect() {
        this.set(sources.storeBytes());
      },
    }),
    storeCapacity: new Gauge({
      name: 'shoal_store_capacity_bytes',
      help: 'Configured cache size',
      registers,
      collect() {
        this.set(sources.storeCapacity());
      },
    }),
    schedulers: new Gauge({
      name: 'shoal_schedulers',
      help: 'Schedulers of this peer, by state (configured: given with --scheduler; connected: a session now)',
      labelNames: ['state'] as const,
      registers,
      collect() {
        this.set({ state: 'configured' }, sources.schedulersConfigured());
        this.set({ state: 'connected' }, sources.schedulersConnected());
      },
    }),
    storeBlobs: new Gauge({
      name: 'shoal_store_blobs',
      help: 'Complete blobs held',
      registers,
      collect() {
        this.set(sources.storeBlobs());
      },
    }),
    evictedBytes: new Counter({
      name: 'shoal_store_evicted_bytes_total',
      help: 'Bytes of blobs evicted',
      registers,
    }),
    evictions: new Counter({ name: 'shoal_store_evictions_total', help: 'Blobs evicted', registers }),
    evictionFailures: new Counter({
      name: 'shoal_store_eviction_failures_total',
      help: 'Blobs that could not be removed when evicted (kept, and tried again later)',
      registers,
    }),
    sendBufferBytes: new Gauge({
      name: 'shoal_send_buffer_bytes',
      help: 'Bytes of answers on their way to clients and peers (within --send-buffer)',
      registers,
      collect() {
        this.set(sources.sendBufferBytes());
      },
    }),
    sendWaiting: new Gauge({
      name: 'shoal_send_buffer_waiting',
      help: 'Answers waiting for send buffer memory that others hold',
      registers,
      collect() {
        this.set(sources.sendWaiting());
      },
    }),
    stalledReaders: new Counter({
      name: 'shoal_stalled_readers_total',
      help: 'Clients and peers dropped for taking none of their answer within --reader-timeout',
      registers,
    }),
    corruptBlobs: new Counter({
      name: 'shoal_store_corrupt_blobs_total',
      help:
        'Cached blobs found corrupt and evicted, by the check that found them (index: size at start-up; ' +
        'open: size when opened; serve: check blocks or digest while served; piece: piece hash while served to a peer; scrub)',
      labelNames: ['found_by'] as const,
      registers,
    }),
    scrubbedBytes: new Counter({
      name: 'shoal_store_scrubbed_bytes_total',
      help: 'Bytes of cached blobs re-hashed by the background scrub',
      registers,
    }),
    storeWriteFailures: new Counter({
      name: 'shoal_store_write_failures_total',
      help: 'Writes the data directory refused (a manifest, a tag, a new download), by error code: served uncached',
      labelNames: ['code'] as const,
      registers,
    }),
    verificationFailures: new Counter({
      name: 'shoal_verification_failures_total',
      help: 'Content that did not match its digest, by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
  };
}

export type PeerMetrics = ReturnType<typeof createPeerMetrics>;
