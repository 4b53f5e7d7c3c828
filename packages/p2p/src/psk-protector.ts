import { randomBytes } from 'node:crypto';
import type {
  AbortOptions,
  ConnectionProtector,
  Logger,
  MessageStream,
  MultiaddrConnection,
} from '@libp2p/interface';
import { AbstractMultiaddrConnection, byteStream, type SendResult } from '@libp2p/utils';
import type { Uint8ArrayList } from 'uint8arraylist';
import { XSalsa20Stream } from './xsalsa20-stream.ts';

const NONCE_BYTES = 24;
/** How long the nonce exchange may take when the upgrader gives no deadline (@libp2p/pnet's). */
const HANDSHAKE_TIMEOUT_MS = 1000;

/**
 * libp2p private networks (pnet), the protocol of @libp2p/pnet and go-libp2p:
 * each side sends a random 24-byte nonce, then every byte each way is XORed
 * with the XSalsa20 keystream of the pre-shared key and the sender's nonce.
 * A node without the key cannot complete the security handshake that
 * follows. The cipher is @noble/ciphers' (see XSalsa20Stream), which keeps
 * no memory shared between connections.
 */
export function pskProtector(psk: Uint8Array): () => ConnectionProtector {
  return () => new PskProtector(psk);
}

class PskProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = '@shoal/psk-protector';
  readonly #psk: Uint8Array;

  constructor(psk: Uint8Array) {
    this.#psk = psk;
  }

  async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    const log = connection.log.newScope('pnet');
    const localNonce = new Uint8Array(randomBytes(NONCE_BYTES));
    const handshake = options?.signal ? options : { signal: AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS) };
    const bytes = byteStream(connection);
    const [remoteNonce] = await Promise.all([
      bytes.read({ bytes: NONCE_BYTES, ...handshake }),
      bytes.write(localNonce, handshake),
    ]);
    log('exchanged nonces');
    return new XorConnection({
      inbound: new XSalsa20Stream(this.#psk, remoteNonce.subarray()),
      outbound: new XSalsa20Stream(this.#psk, localNonce),
      maConn: bytes.unwrap() as MultiaddrConnection,
      log,
    });
  }
}

/** One direction's keystream: XORs each chunk where the last one left off (XSalsa20Stream). */
export interface Keystream {
  update(data: Uint8Array): Uint8Array;
}

/**
 * The connection as the layers above see it: plaintext in, keystream-XORed
 * bytes out to the connection below. Whatever throws while a chunk is
 * deciphered or handed up (the cipher, the security layer, the muxer, a
 * stream's reader, as far as it runs synchronously in this call) ends this
 * connection with that error: an event listener that throws would otherwise
 * be an uncaught exception, the end of the process. (A listener further up
 * that throws inside its own EventTarget's dispatch is reported by Node as
 * uncaught before it gets here: those have to guard themselves.)
 */
export class XorConnection extends AbstractMultiaddrConnection {
  readonly #maConn: MultiaddrConnection;
  readonly #outbound: Keystream;

  constructor(init: {
    inbound: Keystream;
    outbound: Keystream;
    maConn: MultiaddrConnection;
    log: Logger;
  }) {
    const { maConn, inbound } = init;
    super({ log: init.log, remoteAddr: maConn.remoteAddr, direction: maConn.direction });
    this.#maConn = maConn;
    this.#outbound = init.outbound;
    maConn.addEventListener('message', (event) => {
      if (this.status !== 'open') return;
      try {
        const data = event.data;
        if (data instanceof Uint8Array) this.onData(inbound.update(data));
        else for (const chunk of data) this.onData(inbound.update(chunk));
      } catch (error) {
        this.log.error('a chunk could not be deciphered or handled; closing the connection - %e', error);
        this.abort(error as Error);
      }
    });
    maConn.addEventListener('drain', () => this.onMuxerDrain());
    maConn.addEventListener('close', (event) => {
      if (event.error == null) this.onTransportClosed();
      else if (event.local) this.abort(event.error);
      else this.onRemoteReset();
    });
  }

  sendData(data: Uint8ArrayList): SendResult {
    let ciphertext: Uint8Array;
    try {
      ciphertext = this.#outbound.update(data.subarray());
    } catch (error) {
      // Not from inside the send queue: the connection ends once the caller's send() returned.
      queueMicrotask(() => this.abort(error as Error));
      return { sentBytes: data.byteLength, canSendMore: false };
    }
    return { sentBytes: data.byteLength, canSendMore: this.#maConn.send(ciphertext) };
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    await this.#maConn.close(options);
  }

  sendReset(error: Error): void {
    this.#maConn.abort(error);
  }

  sendPause(): void {
    this.#maConn.pause();
  }

  sendResume(): void {
    this.#maConn.resume();
  }
}
