/**
 * The alert rules through Prometheus' and Alertmanager's own tools: `promtool check rules`,
 * `promtool test rules` (every rule fires where it should and stays quiet where it should not),
 * and `amtool check-config` on the Alertmanager configs hitstream writes and documents.
 * infra/setup.sh installs both tools (Debian's prometheus and prometheus-alertmanager).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { prometheusRuleFile } from '../../alerts/prometheus.ts';
import { untestedRules } from '../../alerts/rule-tests.ts';
import { alertRules, overThreshold, readThresholds } from '../../alerts/rules.ts';
import { REPO_DIR } from '../../dashboards/generate.ts';
import { alertmanagerConfig } from '../../infra/stack/monitoring-native.ts';
import { loadConfig } from '../../lib/config.ts';

const generated = join(REPO_DIR, 'alerts/generated');
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.error, undefined, `${cmd} is missing: run infra/setup.sh`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

test('promtool accepts the generated rule file', () => {
  const r = run('promtool', ['check', 'rules', join(generated, 'prometheus-rules.yml')]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`SUCCESS: ${alertRules().length} rules found`));
});

test('promtool test rules: every rule fires on its series and stays quiet on the others', () => {
  assert.deepEqual(untestedRules(alertRules()), [], 'rules without a firing and a quiet case');
  const r = run('promtool', ['test', 'rules', join(generated, 'rules.test.yml')]);
  assert.equal(r.code, 0, r.out);
});

test('promtool test rules fails when a rule would not fire (the test can fail)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  // The feature-drift threshold raised above the series' PSI: its firing case must now fail.
  const th = readThresholds();
  th.HitstreamFeatureDrift!.threshold = 0.9;
  writeFileSync(join(dir, 'prometheus-rules.yml'), prometheusRuleFile(alertRules(th)));
  execFileSync('cp', [join(generated, 'rules.test.yml'), dir]);
  const r = run('promtool', ['test', 'rules', join(dir, 'rules.test.yml')]);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /HitstreamFeatureDrift/);
});

test('per-feature thresholds: each feature is judged against its own, the rest against the default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  const t = {
    threshold: 0.2,
    min_events: 0,
    per: { label: 'feature', values: { energy: 0.5, tempo: 0.05 } },
    calibrated: null,
  };
  const rules = { groups: [{ name: 't', rules: [{ alert: 'T', expr: overThreshold('psi', t) }] }] };
  writeFileSync(join(dir, 'rules.yml'), stringify(rules));
  const at = (feature: string, value: number) => ({
    series: `psi{feature="${feature}"}`,
    values: `${value}x5`,
  });
  const tests = {
    rule_files: ['rules.yml'],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [at('energy', 0.3), at('tempo', 0.1), at('valence', 0.3), at('loudness', 0.1)],
        alert_rule_test: [
          {
            eval_time: '2m',
            alertname: 'T',
            exp_alerts: [{ exp_labels: { feature: 'tempo' } }, { exp_labels: { feature: 'valence' } }],
          },
        ],
      },
    ],
  };
  writeFileSync(join(dir, 'tests.yml'), stringify(tests));
  const r = run('promtool', ['test', 'rules', join(dir, 'tests.yml')]);
  assert.equal(r.code, 0, r.out);
});

test('amtool accepts the Alertmanager config the stack writes, with and without a write key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'am-'));
  for (const key of ['', 'secret-key']) {
    const cfg = loadConfig({ HITSTREAM_API_KEY: key });
    const path = join(dir, `am${key ? '-keyed' : ''}.yml`);
    writeFileSync(path, stringify(alertmanagerConfig(cfg, 'http://127.0.0.1:8080/alerts/webhook')));
    const r = run('amtool', ['check-config', path]);
    assert.equal(r.code, 0, r.out);
  }
});

test('amtool accepts every documented receiver example (Slack, e-mail, PagerDuty, webhook)', () => {
  const dir = join(REPO_DIR, 'alerts/receivers');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
  assert.deepEqual(files.sort(), ['email.yml', 'pagerduty.yml', 'slack.yml', 'webhook.yml']);
  for (const f of files) {
    const r = run('amtool', ['check-config', join(dir, f)]);
    assert.equal(r.code, 0, `${f}: ${r.out}`);
  }
});

test('amtool refuses a broken config (the check can fail)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'am-'));
  writeFileSync(join(dir, 'bad.yml'), 'route:\n  receiver: nobody\nreceivers: []\n');
  assert.notEqual(run('amtool', ['check-config', join(dir, 'bad.yml')]).code, 0);
});

test("docker-compose's Prometheus and Alertmanager configs pass promtool and amtool", () => {
  const dir = mkdtempSync(join(tmpdir(), 'compose-'));
  // The container path of the rules, pointed at the generated file.
  const config = readFileSync(join(REPO_DIR, 'infra/prometheus/prometheus.yml'), 'utf8').replace(
    '/etc/prometheus/rules/hitstream.yml',
    join(generated, 'prometheus-rules.yml'),
  );
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const prom = run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
  assert.equal(prom.code, 0, prom.out);
  const am = run('amtool', ['check-config', join(REPO_DIR, 'infra/alertmanager/alertmanager.yml')]);
  assert.equal(am.code, 0, am.out);
});
