/**
 * The OpenAPI document is the contract: schemathesis (PyPI; `infra/setup.sh --test` installs it)
 * generates requests from /docs/json against a real API on the real broker and server and runs
 * every check (undocumented statuses, schema-valid requests refused, wrong responses to
 * undeclared methods, server errors, response schemas). Zero failures required. The seed is
 * fixed so that a failure reproduces; run it by hand without `--seed` to explore further.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { isolatedPipeline } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;

before(async () => {
  p = await isolatedPipeline(1);
  s = await startScoringApp(p, { feed: true, listen: true });
});
after(async () => {
  await s.stop();
  await p.cleanup();
});

/** Runs a command without blocking this process (the API under test lives in it). */
function run(cmd: string, args: string[], timeoutMs: number) {
  return new Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }>((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false' },
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

test('schemathesis --checks all finds no failure in the API against its OpenAPI document', async () => {
  const result = await run(
    'schemathesis',
    ['run', `${s.base}/docs/json`, '--url', s.base, '--checks', 'all', '--seed', '20261201', '--no-color'],
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
