/** The autopilot's policy: the shipped file is valid, defaults fill gaps, mistakes name their field. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_POLICY, loadPolicy, parsePolicy, seconds } from '../../autopilot/policy.ts';

test('the shipped autopilot.policy.yml is valid and says what the defaults say', () => {
  assert.deepEqual(loadPolicy('autopilot.policy.yml'), DEFAULT_POLICY);
});

test('a section left out keeps its defaults; a key left out keeps its own', () => {
  const p = parsePolicy('mode: approve\njudging:\n  margin: 0\n', 'p.yml');
  assert.equal(p.mode, 'approve');
  assert.equal(p.judging.margin, 0);
  assert.equal(p.judging.alpha, DEFAULT_POLICY.judging.alpha);
  assert.deepEqual(p.training, DEFAULT_POLICY.training);
  assert.equal(seconds(p.guardrails.cooldown), 6 * 3600);
});

test('each mistake names its field', () => {
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parsePolicy(text, 'p.yml'),
      (err: Error & { field?: string }) => {
        assert.match(`${err.field}: ${err.message}`, pattern);
        return true;
      },
    );
  refused('judging:\n  alpha: 0.5\n', /^judging\.alpha: p\.yml: judging\.alpha: .*less or equal to 0\.2/);
  refused('training:\n  since: 30 days\n', /^training\.since: .*training\.since/);
  refused('training:\n  models: [rf, gbm]\n', /training\.models\.1/);
  refused('mode: yolo\n', /^mode: .*mode must be one of "auto", "approve"/);
  refused('guardrails:\n  cooldwn: 1h\n', /guardrails\.cooldwn is not a known field/);
  refused('trigger:\n  alerts: []\n', /^trigger: .*name alerts, a schedule/);
  refused('mode: [auto\n', /^p\.yml: .*not YAML/);
  refused('- a list\n', /expected a mapping/);
  assert.throws(
    () => loadPolicy('/no/such/policy.yml'),
    /\/no\/such\/policy\.yml: cannot read the policy \(ENOENT\)/,
  );
});

test('a schedule alone is a trigger', () => {
  const p = parsePolicy('trigger:\n  alerts: []\n  every: 7d\n', 'p.yml');
  assert.equal(seconds(p.trigger.every!), 7 * 86400);
});
