/**
 * The native stack's own CA, the certificates it signs (the servers', for 127.0.0.1 and
 * localhost, and one client's, for mutual TLS) and the passwords of its secure listeners, made
 * once with openssl under HITSTREAM_HOME/tls. Everything there is for loopback tests and trials:
 * git-ignored, private keys and passwords readable by their owner only.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HitstreamError } from '../../lib/errors.ts';

export interface TlsMaterial {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** Certificate chain and key in one PEM file, as Kafka's PEM keystore reads it. */
  serverKeystore: string;
  clientCert: string;
  clientKey: string;
  /** The user of Kafka's SASL listener and ClickHouse's HTTPS user. */
  user: string;
  password: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error || r.status !== 0)
    throw new HitstreamError(
      'STACK_MISSING_TOOL',
      `openssl ${args[0]} failed (${r.error?.message ?? r.stderr.trim()}): the native stack makes its certificates with openssl (Debian: apt-get install openssl)`,
    );
}

/** A key and a certificate signed by the CA in `dir`, with `ext` as its extensions. */
function signed(dir: string, name: string, subject: string, ext: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '825',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
  chmodSync(join(dir, `${name}.key`), 0o600);
}

/** Makes a CA and what it signs in `dir` unless they are there; returns the paths and the password. */
export function ensureTlsMaterial(dir: string, log: (msg: string) => void = () => {}): TlsMaterial {
  const m: TlsMaterial = {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    serverKeystore: join(dir, 'server-keystore.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    user: 'hitstream',
    password: '',
  };
  const secret = join(dir, 'password');
  if (!existsSync(m.clientKey) || !existsSync(secret)) {
    log(`making a CA, server and client certificates with openssl in ${dir} (once)`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key'], dir);
    chmodSync(join(dir, 'ca.key'), 0o600);
    openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        'ca.key',
        '-subj',
        '/CN=hitstream native stack CA',
        '-days',
        '825',
        '-sha256',
        '-out',
        'ca.pem',
      ],
      dir,
    );
    signed(
      dir,
      'server',
      '/CN=localhost',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    );
    signed(dir, 'client', '/CN=hitstream-client', 'extendedKeyUsage=clientAuth\n');
    writeFileSync(m.serverKeystore, readFileSync(m.serverKey, 'utf8') + readFileSync(m.serverCert, 'utf8'), {
      mode: 0o600,
    });
    writeFileSync(secret, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  m.password = readFileSync(secret, 'utf8').trim();
  return m;
}

/** SHA-256 of the password in hex, as ClickHouse's users.xml `password_sha256_hex` wants it. */
export function sha256Hex(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}
