// Settings a command needs from its first allocation (V8's heap shape and glibc's malloc
// arenas are fixed once they exist), applied by shoal.js before anything else loads.
// Plain JavaScript: read before the TypeScript sources. For the peer (bench/link, 1 GiB piece
// download: peak RSS of either peer ~310 -> under 200 MB):
// - a young generation of 2 x 2 MB instead of up to 2 x 32 MB: a transfer's network buffers
//   die there and are freed every few MB instead of every 64;
// - one malloc arena instead of one per thread: freed buffers are reused by whichever
//   thread allocates next instead of held, idle, in another thread's arena.
// For the scheduler (bench/scheduler, 2,000 peers, three runs each): a young generation of
// 2 x 16 MB instead of up to 2 x 32 MB. Its messages' state lives for a piece's fetch, so much
// of each young generation survives a scavenge, which took up to 71 ms at the full size: every
// answer due meanwhile waited. Smaller, scavenges come twice as often and stop it for less
// (answer p99 54.6 -> 46.5 ms, median of three; peak RSS 602-625 -> 506-522 MiB) for ~0.7 s
// more collector time in a 75-s rollout.
export const STARTUP_SETTINGS = {
  peer: { v8Flags: ['--max-semi-space-size=2'], env: { MALLOC_ARENA_MAX: '1' } },
  scheduler: { v8Flags: ['--max-semi-space-size=16'], env: {} },
};
