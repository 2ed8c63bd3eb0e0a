/**
 * The autopilot's policy: what starts a run, how it trains, how a candidate is judged, whether it
 * promotes on its own, and the guardrails. One YAML (or JSON) file, validated at start against the
 * schema below; a mistake stops the autopilot with the field's path (`judging.alpha: …`).
 */
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { parse } from 'yaml';
import { HitstreamError } from '../lib/errors.ts';
import { MODEL_NAMES, SCORE_NAMES } from '../schemas/prediction.ts';
import { formatErrors, validate } from '../schemas/validate.ts';

const Duration = Type.String({ pattern: '^[0-9]+(s|m|h|d)$', description: '45s, 10m, 6h, 30d' });

export const Policy = Type.Object(
  {
    trigger: Type.Object(
      {
        /** Alert names (as Alertmanager sends them) that start a run once firing for `firing_for`. */
        alerts: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        firing_for: Type.Optional(Duration),
        /** A run every this long, counted from the last run's start; absent: alerts only. */
        every: Type.Optional(Duration),
      },
      { additionalProperties: false },
    ),
    training: Type.Object(
      {
        since: Duration,
        min_labelled_rows: Type.Integer({ minimum: 1 }),
        models: Type.Array(Type.Union(MODEL_NAMES.map((m) => Type.Literal(m))), { minItems: 1 }),
        timeout: Duration,
      },
      { additionalProperties: false },
    ),
    judging: Type.Object(
      {
        /** The longest a candidate is judged; undecided by then, it is retired. */
        window: Duration,
        /** Paired labelled events before the test may decide. */
        min_labelled_events: Type.Integer({ minimum: 2 }),
        /** How much lower the candidate's MSE must be than live's: 0.02 = 2 %. */
        margin: Type.Number({ minimum: 0, maximum: 0.9 }),
        /** The test's bound on false promotions (and false rollbacks). */
        alpha: Type.Number({ exclusiveMinimum: 0, maximum: 0.2 }),
        /** `served`: each version's published score (its ensemble, else its best model). */
        score: Type.Union([Type.Literal('served'), ...SCORE_NAMES.map((m) => Type.Literal(m))]),
        /** How often the test is brought up to date. */
        check_every: Duration,
      },
      { additionalProperties: false },
    ),
    mode: Type.Union([Type.Literal('auto'), Type.Literal('approve')]),
    guardrails: Type.Object(
      {
        cooldown: Duration,
        probation: Duration,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type Policy = Static<typeof Policy>;

/** What a policy file leaves out. */
export const DEFAULT_POLICY: Policy = {
  trigger: {
    alerts: ['HitstreamFeatureDrift', 'HitstreamErrorAboveTest', 'HitstreamEstimatedErrorRising'],
    firing_for: '15m',
  },
  training: { since: '30d', min_labelled_rows: 500, models: [...MODEL_NAMES], timeout: '60m' },
  judging: {
    window: '24h',
    min_labelled_events: 200,
    margin: 0.02,
    alpha: 0.05,
    score: 'served',
    check_every: '30s',
  },
  mode: 'auto',
  guardrails: { cooldown: '6h', probation: '6h' },
};

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `10m` → 600. The schema has checked the form already. */
export const seconds = (d: string) => Number(d.slice(0, -1)) * UNIT_SECONDS[d.at(-1)!]!;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The file's sections laid over the defaults, one level deep (a section's unnamed keys keep theirs). */
function withDefaults(given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...DEFAULT_POLICY, ...given };
  for (const [key, value] of Object.entries(DEFAULT_POLICY))
    if (isObject(value) && isObject(given[key])) out[key] = { ...value, ...given[key] };
  return out;
}

/** A policy from text (YAML or JSON), or an error naming each bad field. */
export function parsePolicy(text: string, source: string): Policy {
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (err) {
    throw new HitstreamError('policy_invalid', `${source}: not YAML: ${(err as Error).message}`, {
      field: source,
    });
  }
  if (!isObject(raw))
    throw new HitstreamError('policy_invalid', `${source}: expected a mapping of sections`, {
      field: source,
    });
  const merged = withDefaults(raw);
  const checked = validate(Policy, merged);
  if (!checked.ok)
    throw new HitstreamError('policy_invalid', `${source}: ${formatErrors(checked.errors)}`, {
      field: checked.errors[0]!.field,
    });
  const policy = checked.value;
  if (!policy.trigger.alerts.length && !policy.trigger.every)
    throw new HitstreamError(
      'policy_invalid',
      `${source}: trigger: name alerts, a schedule (every), or both; with neither nothing would start a run`,
      { field: 'trigger' },
    );
  if (policy.trigger.alerts.length && !policy.trigger.firing_for)
    throw new HitstreamError(
      'policy_invalid',
      `${source}: trigger.firing_for: required with trigger.alerts`,
      {
        field: 'trigger.firing_for',
      },
    );
  return policy;
}

/** The policy in `path`; a missing file is an error naming it (the defaults are in DEFAULT_POLICY). */
export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HitstreamError(
      'policy_invalid',
      `${path}: cannot read the policy (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); HITSTREAM_AUTOPILOT_POLICY names the file`,
      { field: 'HITSTREAM_AUTOPILOT_POLICY', cause: err, explainsCause: true },
    );
  }
  return parsePolicy(text, path);
}
