/**
 * Applies schemas/clickhouse/NNN_name.sql in order, once each, recording them in `migrations`.
 * Statements are written with IF NOT EXISTS, so two processes migrating at once are harmless.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { classifyClickhouseError } from '../lib/clickhouse-errors.ts';
import { speaksTls } from '../lib/tls-probe.ts';
import { HitstreamError } from '../lib/errors.ts';
import { ident, sql } from '../lib/sql.ts';
import { clusterStatements } from './replicated-ddl.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../schemas/clickhouse/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: string[];
}

/** Splits a .sql file into statements: `--` comment lines dropped, `;` at a line's end ends one. */
export function splitStatements(text: string): string[] {
  const body = text
    .split('\n')
    .filter((l) => !l.trim().startsWith('--'))
    .join('\n');
  return body
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      return {
        version: Number(file.slice(0, 3)),
        name: file.replace(/\.sql$/, ''),
        checksum: createHash('sha256').update(text).digest('hex').slice(0, 16),
        statements: splitStatements(text),
      };
    });
}

export const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS migrations (
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version`;

/** Creates the database if needed and applies what has not run. Returns the names applied. */
export async function migrate(cfg: Config, database = cfg.clickhouseDatabase): Promise<string[]> {
  const cluster = cfg.clickhouseCluster;
  let shards = 1;
  /** The statement as this server (or, with a cluster, every server) should run it. */
  const forTarget = (statement: string) =>
    cluster ? clusterStatements(statement, cluster, database, shards) : [statement];
  const run = async (client: ReturnType<typeof createClickhouse>, statement: string) => {
    for (const query of forTarget(statement)) await client.command({ query });
  };
  const server = createClickhouse(cfg, { database: null });
  try {
    if (cluster) shards = await clusterShards(server, cluster);
    await run(server, sql`CREATE DATABASE IF NOT EXISTS ${ident(database)}` + ' ');
  } catch (err) {
    if (err instanceof HitstreamError && err.code === 'CLICKHOUSE_CLUSTER') throw err;
    const classified = await withTlsHint(
      cfg,
      classifyClickhouseError(err, { what: 'create the database', url: cfg.clickhouseUrl, database }),
    );
    if (!classified.retriable) throw classified;
    throw new HitstreamError('CLICKHOUSE_UNAVAILABLE', `cannot reach ClickHouse at ${cfg.clickhouseUrl}`, {
      cause: err,
      retriable: true,
    });
  } finally {
    await server.close();
  }
  const ch = createClickhouse(cfg, { database });
  try {
    await run(ch, MIGRATIONS_TABLE);
    const rs = await ch.query({
      query: 'SELECT version, checksum FROM migrations FINAL',
      format: 'JSONEachRow',
    });
    const done = new Map(
      (await rs.json<{ version: number; checksum: string }>()).map((r) => [Number(r.version), r.checksum]),
    );
    const applied: string[] = [];
    for (const m of loadMigrations()) {
      if (done.has(m.version)) continue;
      for (const statement of m.statements) {
        try {
          await run(ch, statement);
        } catch (err) {
          throw new HitstreamError(
            'MIGRATION_FAILED',
            `${m.name}: statement failed: ${statement.slice(0, 120)}…`,
            { cause: err },
          );
        }
      }
      await ch.insert({
        table: 'migrations',
        values: [
          {
            version: m.version,
            name: m.name,
            checksum: m.checksum,
            applied_at: Math.floor(Date.now() / 1000),
          },
        ],
        format: 'JSONEachRow',
      });
      applied.push(m.name);
    }
    return applied;
  } finally {
    await ch.close();
  }
}

/** The shards of the cluster HITSTREAM_CLICKHOUSE_CLUSTER names, which must exist on this server. */
async function clusterShards(server: ReturnType<typeof createClickhouse>, cluster: string): Promise<number> {
  const rs = await server.query({
    query: sql`SELECT uniqExact(shard_num) AS shards FROM system.clusters WHERE cluster = ${cluster}`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ shards: string | number }>();
  const shards = Number(row?.shards ?? 0);
  if (shards === 0)
    throw new HitstreamError(
      'CLICKHOUSE_CLUSTER',
      `HITSTREAM_CLICKHOUSE_CLUSTER=${cluster}: the server knows no such cluster (see SELECT DISTINCT cluster FROM system.clusters)`,
      { field: 'HITSTREAM_CLICKHOUSE_CLUSTER' },
    );
  return shards;
}

/**
 * Fails with `schema_missing` (fatal: run `migrate`) when the database or a migration is missing,
 * and with `storage_unavailable` (retriable) when ClickHouse does not answer. What workers check
 * before they consume: a worker started before `migrate` used to retry "Database hitstream
 * doesn't exist" every 10 s forever while its /health said ready.
 */
export async function checkSchema(cfg: Config): Promise<void> {
  const ch = createClickhouse(cfg, { timeoutMs: 5_000 });
  const what = 'read the applied migrations';
  const ctx = { what, url: cfg.clickhouseUrl, database: cfg.clickhouseDatabase };
  try {
    const rs = await ch.query({ query: 'SELECT version FROM migrations FINAL', format: 'JSONEachRow' });
    const applied = new Set((await rs.json<{ version: number | string }>()).map((r) => Number(r.version)));
    const pending = loadMigrations().filter((m) => !applied.has(m.version));
    if (pending.length)
      throw new HitstreamError(
        'schema_missing',
        `database ${cfg.clickhouseDatabase} lacks migrations ${pending.map((m) => m.name).join(', ')}: run \`npx hitstream migrate\``,
        { field: 'CLICKHOUSE_DATABASE' },
      );
  } catch (err) {
    throw await withTlsHint(cfg, classifyClickhouseError(err, ctx));
  } finally {
    await ch.close();
  }
}

/**
 * An unreachable http:// server whose port completes a TLS handshake is an HTTPS port: a setting
 * to fix now, not an outage to wait out.
 */
async function withTlsHint(cfg: Config, err: HitstreamError): Promise<HitstreamError> {
  if (!err.retriable || !cfg.clickhouseUrl.startsWith('http://')) return err;
  const url = new URL(cfg.clickhouseUrl);
  if (!(await speaksTls(url.hostname, Number(url.port || 80)))) return err;
  return new HitstreamError(
    'storage_auth',
    `ClickHouse at ${cfg.clickhouseUrl} answers with TLS on that port: use https:// in CLICKHOUSE_URL (and CLICKHOUSE_CA_FILE for a private CA)`,
    { field: 'CLICKHOUSE_URL', cause: err },
  );
}

/** `checkSchema`, waiting up to `waitMs` for ClickHouse to answer (one `onWait` line every ~10 s). */
export async function requireSchema(
  cfg: Config,
  opts: { waitMs: number; onWait: (problem: string) => void },
): Promise<void> {
  const deadline = Date.now() + opts.waitMs;
  let lastSaid = 0;
  for (;;) {
    try {
      return await checkSchema(cfg);
    } catch (err) {
      if (!(err instanceof HitstreamError) || !err.retriable || Date.now() >= deadline) throw err;
      if (Date.now() - lastSaid >= 10_000) {
        opts.onWait(err.message);
        lastSaid = Date.now();
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}
