import { Socket } from 'node:net';
import { connect, TLSSocket, type TLSSocketOptions } from 'node:tls';
import type {
  ComponentLogger,
  ConnectionEncrypter,
  MessageStream,
  MultiaddrConnection,
  PeerId,
  PrivateKey,
  SecureConnectionOptions,
  SecuredConnection,
  StreamMuxerFactory,
  Upgrader,
} from '@libp2p/interface';
import { serviceCapabilities } from '@libp2p/interface';
import { tls } from '@libp2p/tls';
import { coalesceSmallWrites } from './write-coalescing.ts';

/**
 * libp2p's TLS 1.3 handshake (`/tls/1.0.0`, the same certificates and checks
 * as @libp2p/tls, whose helpers it uses), but with OpenSSL attached straight
 * to the TCP socket.
 *
 * @libp2p/tls runs TLS over a JavaScript stream: every chunk of ciphertext
 * travels socket -> connection -> Duplex -> JSStreamSocket -> TLS and back,
 * and every encrypted chunk is a fresh buffer for the garbage collector. On a
 * bulk transfer that plumbing costs more CPU than the encryption. Here
 * Node's TLS layer wraps the socket's native handle, as for `tls.connect`,
 * and only plaintext reaches JavaScript. It is the same protocol on the wire,
 * so it interoperates with @libp2p/tls. Connections that are not a plain TCP
 * socket (a pnet-protected one, other transports) or that already hold
 * unread bytes go through @libp2p/tls itself.
 */

interface TlsHelpers {
  generateCertificate(
    privateKey: PrivateKey,
    options?: { signal?: AbortSignal },
  ): Promise<{ cert: string; key: string }>;
  verifyPeerCertificate(raw: Uint8Array, expected?: PeerId): Promise<PeerId>;
  toMessageStream(stream: MessageStream, socket: TLSSocket): MessageStream;
}

// The certificate code of @libp2p/tls is not among its package exports: load it by file.
const helpers = (await import(new URL('./utils.js', import.meta.resolve('@libp2p/tls')).href)) as TlsHelpers;

export interface SocketTlsComponents {
  privateKey: PrivateKey;
  upgrader: Upgrader;
  logger: ComponentLogger;
}

type Fallback = ConnectionEncrypter & { protocol: string };

class SocketTls implements ConnectionEncrypter {
  readonly protocol = '/tls/1.0.0';
  readonly [Symbol.toStringTag] = '@shoal/socket-tls';
  readonly [serviceCapabilities] = ['@libp2p/connection-encryption'];
  readonly #components: SocketTlsComponents;
  readonly #fallback: Fallback;
  /**
   * One certificate for every connection of this node, made on first use: the
   * libp2p TLS spec allows reusing it, and making one (a key pair, a signature,
   * X.509 encoding) costs more CPU than many handshakes' worth of anything else.
   */
  #certificate: Promise<{ cert: string; key: string }> | undefined;

  constructor(components: SocketTlsComponents) {
    this.#components = components;
    this.#fallback = tls()(components as never) as Fallback;
  }

  secureInbound(connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
    return this.#secure(connection, true, options);
  }

  secureOutbound(connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
    return this.#secure(connection, false, options);
  }

  async #secure(
    connection: MessageStream,
    isServer: boolean,
    options?: SecureConnectionOptions,
  ): Promise<SecuredConnection> {
    const socket = tcpSocketOf(connection);
    // Paused at once: bytes arriving while the certificate is made stay in the socket for TLS to take.
    socket?.pause();
    if (!socket || connection.readBufferLength > 0) {
      socket?.resume();
      return isServer
        ? this.#fallback.secureInbound(connection, options)
        : this.#fallback.secureOutbound(connection, options);
    }
    const upgrader = this.#components.upgrader;
    const muxers = options?.skipStreamMuxerNegotiation === true ? [] : [...upgrader.getStreamMuxers().keys()];
    let muxer: StreamMuxerFactory | undefined;
    this.#certificate ??= helpers.generateCertificate(this.#components.privateKey);
    // A failure is not kept: the next connection tries again.
    this.#certificate.catch(() => {
      this.#certificate = undefined;
    });
    const certificate = await this.#certificate;
    options?.signal?.throwIfAborted();
    const tlsOptions: TLSSocketOptions & { minVersion: 'TLSv1.3'; maxVersion: 'TLSv1.3' } = {
      ...certificate,
      isServer,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      // Self-signed certificates: the libp2p extension is checked below instead.
      rejectUnauthorized: false,
      // Early muxer negotiation through ALPN, as @libp2p/tls does.
      ALPNProtocols: [...muxers, 'libp2p'],
      ALPNCallback: ({ protocols }: { protocols: string[] }) => {
        let chosen: string | undefined;
        for (const protocol of protocols) {
          if (protocol === 'libp2p') chosen = 'libp2p';
          muxer = upgrader.getStreamMuxers().get(protocol);
          if (muxer) return protocol;
        }
        return chosen;
      },
    };
    // The raw socket's own data listener (the connection's) must not see the ciphertext TLS reads.
    socket.removeAllListeners('data');
    const secure = isServer
      ? new TLSSocket(socket, { ...tlsOptions, requestCert: true })
      : connect({ socket, ...tlsOptions });
    const onAbort = () => secure.destroy(new Error('TLS handshake aborted'));
    options?.signal?.addEventListener('abort', onAbort);
    try {
      await new Promise<void>((resolve, reject) => {
        secure.once(isServer ? 'secure' : 'secureConnect', resolve);
        // `on`, not `once`: an abort can make the socket emit a second error (the raw socket's
        // reset, then the abort's own); one without a listener would crash the process.
        secure.on('error', reject);
        secure.once('close', () => reject(new Error('connection closed during the TLS handshake')));
      });
      const remotePeer = await helpers.verifyPeerCertificate(
        new Uint8Array(secure.getPeerCertificate().raw),
        options?.remotePeer,
      );
      if (
        !isServer &&
        typeof secure.alpnProtocol === 'string' &&
        secure.alpnProtocol !== 'libp2p' &&
        muxers.length
      ) {
        muxer = upgrader.getStreamMuxers().get(secure.alpnProtocol);
        if (!muxer) throw new Error(`the remote selected muxer ${secure.alpnProtocol}, which is not here`);
      }
      coalesceSmallWrites(secure);
      return {
        remotePeer,
        connection: helpers.toMessageStream(connection, secure),
        ...(muxer ? { streamMuxer: muxer } : {}),
      };
    } catch (error) {
      secure.destroy();
      connection.abort(error as Error);
      throw error;
    } finally {
      options?.signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** The TCP socket under a connection straight from the TCP transport; undefined for anything else. */
function tcpSocketOf(connection: MessageStream): Socket | undefined {
  const socket = (connection as Partial<MultiaddrConnection> & { socket?: unknown }).socket;
  return socket instanceof Socket && !(socket instanceof TLSSocket) && !socket.destroyed ? socket : undefined;
}

/** The connection encrypter to put where `tls()` would go. */
export function socketTls(): (components: SocketTlsComponents) => ConnectionEncrypter {
  return (components) => new SocketTls(components);
}
