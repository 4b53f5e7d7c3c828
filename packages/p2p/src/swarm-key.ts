const HEADER = '/key/swarm/psk/1.0.0/';
const CODEC = '/base16/';
const KEY_BYTES = 32;

/**
 * The 32-byte key of a libp2p swarm.key (the format go-libp2p, IPFS and
 * @libp2p/pnet read: `/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits, one
 * per line). `source` names the file in the error.
 */
export function decodeSwarmKey(text: Uint8Array | string, source: string): Uint8Array {
  const lines = (typeof text === 'string' ? text : new TextDecoder().decode(text)).split(/\r\n|\r|\n/);
  const [header, codec, hex = ''] = lines.map((line) => line.trim());
  const fail = (why: string) =>
    new Error(
      `${source}: not a swarm key (${why}); expected "${HEADER}", "${CODEC}" and 64 hex digits on three lines`,
    );
  if (header !== HEADER) throw fail(`first line is not ${HEADER}`);
  if (codec !== CODEC) throw fail(`second line is not ${CODEC}, the only encoding supported`);
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length !== 2 * KEY_BYTES)
    throw fail(`third line is not ${2 * KEY_BYTES} hex digits`);
  if (lines.slice(3).some((line) => line.trim() !== '')) throw fail('text after the key');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}
