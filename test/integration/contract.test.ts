/**
 * The OpenAPI document is the contract: schemathesis (PyPI; `infra/setup.sh --test` installs it)
 * generates requests from /docs/json against a real API on the real broker and server and runs
 * every check (undocumented statuses, schema-valid requests refused, wrong responses to
 * undeclared methods, server errors, response schemas). Zero failures required. The seed is
 * fixed so that a failure reproduces; run it by hand without `--seed` to explore further.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureTopics } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { ARTIFACTS_DIR } from '../../models/model-set.ts';
import { createLifecycle } from '../../registry/lifecycle.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { isolatedPipeline } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;

/** A version in the registry, for the operations that name one (schemathesis is told it). */
let version: string;

before(async () => {
  p = await isolatedPipeline(1);
  s = await startScoringApp(p, { feed: true, listen: true });
  await ensureTopics(p.cfg); // the role topic
  const lifecycle = createLifecycle(p.cfg, createLogger('test-contract', 'warn'));
  version = (await lifecycle.push(ARTIFACTS_DIR)).version;
  await lifecycle.close();
});
after(async () => {
  await s.stop();
  await p.cleanup();
});

/** Runs a command without blocking this process (the API under test lives in it). */
function run(cmd: string, args: string[], timeoutMs: number) {
  return new Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }>((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false', HITSTREAM_TEST_VERSION: version },
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (error) => resolve({ status: null, stdout, stderr, error }));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Known ids for path parameters: a version that exists, so `POST /models/{version}/promote`
 * reaches its logic (promoted once, then 409 "live already") instead of 404 on every try.
 * A request refused with 413 is refused: an invalid body over 1 MiB (too many alerts for the
 * webhook's maxItems) is answered `body_too_large` before its schema is read, which
 * schemathesis's default list of rejections (400, 401, 403, 404, …) leaves out.
 */
function config(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hitstream-schemathesis-')), 'schemathesis.toml');
  const rejections = [
    '400',
    '401',
    '403',
    '404',
    '405',
    '406',
    '409',
    '413',
    '415',
    '422',
    '428',
    '429',
    '5XX',
  ];
  writeFileSync(
    path,
    [
      '[parameters]',
      '"path.version" = "${HITSTREAM_TEST_VERSION}"',
      '',
      '[checks.negative_data_rejection]',
      `expected-statuses = [${rejections.map((s) => `"${s}"`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  return path;
}

test('schemathesis (every check but one) finds no failure in the API against its OpenAPI document', async () => {
  const result = await run(
    'schemathesis',
    [
      '--config-file',
      config(),
      'run',
      `${s.base}/docs/json`,
      '--url',
      s.base,
      '--checks',
      'all',
      // But one: "a resource a POST created answers at once" (ensure_resource_availability).
      // `POST /tracks` answers 202 Accepted: an event is stored once a worker has scored it, so a
      // track just posted has no stored event for `GET /tracks/{id}/explanation` yet (404
      // `unknown_track`, as documented). The stateful phase applies checks for every operation
      // alike (a per-operation exception in the config file is not read there).
      '--exclude-checks',
      'ensure_resource_availability',
      '--seed',
      '20261201',
      '--no-color',
    ],
    240_000,
  );
  assert.ok(
    !result.error,
    `schemathesis did not run (${result.error?.message}): run \`bash infra/setup.sh --test\``,
  );
  const summary = result.stdout.split('\n').filter((l) => /generated|passed|failures|issues found/i.test(l));
  process.stdout.write(`# schemathesis: ${summary.map((l) => l.trim()).join(' | ')}\n`);
  assert.equal(
    result.status,
    0,
    `schemathesis found failures:\n${result.stdout.slice(-6000)}\n${result.stderr}`,
  );
  assert.match(result.stdout, /No issues found/);
});
