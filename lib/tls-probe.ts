/**
 * Does a port speak TLS? A plaintext client at a TLS port (Kafka's SSL listener, ClickHouse's
 * https_port) only sees its connection closed, as in an outage; one handshake tells them apart,
 * so the error can name the setting instead of waiting for a server that is already there.
 */
import { isIP } from 'node:net';
import { connect } from 'node:tls';

export function speaksTls(hostOrBracketed: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  // `[::1]` as written in URLs and broker lists is `::1` to the socket.
  const host = hostOrBracketed.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      // Only the handshake matters here, not whom it is with.
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const done = (v: boolean) => {
      socket.destroy();
      resolve(v);
    };
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** The first `host:port` of the list that completes a TLS handshake, or undefined. */
export async function firstSpeakingTls(endpoints: string[]): Promise<string | undefined> {
  for (const e of endpoints) {
    const i = e.lastIndexOf(':');
    if (await speaksTls(e.slice(0, i), Number(e.slice(i + 1)))) return e;
  }
  return undefined;
}
