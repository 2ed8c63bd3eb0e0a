/**
 * Thresholds from history: for each tunable rule (and each feature or model where they differ),
 * the lowest threshold at which the rule, replayed window by window over the stored history,
 * would have fired no more often than the false-alarm budget allows; then a headroom above it, so
 * that history the calibration did not see stays within the budget too. It treats the history as
 * healthy: an incident in it raises the thresholds to stay quiet on it. Pure: history.ts reads.
 */
import type { WindowValue } from './history.ts';
import type { Tunable } from './rules.ts';

/** Windows (one a minute) a value must stay above the threshold to fire, from the rule's `for`. */
export const windowsToFire = (forDuration: string): number => {
  const m = /^(\d+)([smh])$/.exec(forDuration);
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] : 0;
  return Math.floor(seconds / 60) + 1;
};

/** How often a rule fires over one key's windows (in time order): alarms, and minutes firing. */
export function firings(
  windows: readonly WindowValue[],
  threshold: number,
  minEvents: number,
  needed: number,
): { alarms: number; minutes: number } {
  let alarms = 0;
  let minutes = 0;
  let run = 0;
  let last = Number.NEGATIVE_INFINITY;
  for (const w of windows) {
    // A gap in the history (no window that minute) ends a run.
    if (w.end !== last + 60) run = 0;
    last = w.end;
    if (w.n >= minEvents && w.value > threshold) {
      run++;
      if (run === needed) alarms++;
      if (run >= needed) minutes++;
    } else run = 0;
  }
  return { alarms, minutes };
}

/** The lowest value of `candidates` at which `alarmsAt` is at most `allowed` (Infinity: none). */
function lowestMeeting(candidates: number[], alarmsAt: (t: number) => number, allowed: number): number {
  const unique = [...new Set(candidates)].sort((a, b) => a - b);
  // At most ~400 candidates (quantiles of the values): a week is 10,080 windows per key.
  const step = Math.max(1, Math.ceil(unique.length / 400));
  const sorted = unique.filter((_, i) => i % step === 0 || i === unique.length - 1);
  // Above the highest value nothing fires; below it, find the first candidate that meets the
  // budget scanning down from the top (raising a threshold can split one alarm into two, so the
  // count is not monotonic and a bisection could stop early).
  let best = sorted.at(-1) ?? 0;
  for (let i = sorted.length - 1; i >= 0; i--) {
    if (alarmsAt(sorted[i]!) > allowed) break;
    best = sorted[i]!;
  }
  return best;
}

export interface KeyCalibration {
  key: string;
  windows: number;
  threshold: number;
  before: { alarms: number; minutes: number };
  after: { alarms: number; minutes: number };
}

export interface RuleCalibration {
  rule: string;
  windows: number;
  old: Tunable;
  next: Tunable;
  keys: KeyCalibration[];
  before: { alarms: number; minutes: number };
  after: { alarms: number; minutes: number };
}

const byKey = (windows: readonly WindowValue[]) => {
  const out = new Map<string, WindowValue[]>();
  for (const w of windows) out.set(w.key, [...(out.get(w.key) ?? []), w]);
  for (const list of out.values()) list.sort((a, b) => a.end - b.end);
  return out;
};

const sum = (xs: { alarms: number; minutes: number }[]) => ({
  alarms: xs.reduce((a, x) => a + x.alarms, 0),
  minutes: xs.reduce((a, x) => a + x.minutes, 0),
});

export function calibrateRule(opts: {
  rule: string;
  windows: readonly WindowValue[];
  old: Tunable;
  forDuration: string;
  /** Alarms the whole rule may raise over the history (its keys share them). */
  allowedAlarms: number;
  headroom: number;
  /** The label the keys are (feature, model); none for a rule with one series. */
  label?: string;
  at: Date;
  history: string;
  falseAlarmsPerWeek: number;
}): RuleCalibration {
  const needed = windowsToFire(opts.forDuration);
  const keys = byKey(opts.windows);
  const perKey = Math.floor(opts.allowedAlarms / Math.max(1, keys.size));
  const oldThreshold = (key: string) => opts.old.per?.values[key] ?? opts.old.threshold;
  const calibrated: KeyCalibration[] = [...keys].map(([key, list]) => {
    const judged = list.filter((w) => w.n >= opts.old.min_events);
    const before = firings(list, oldThreshold(key), opts.old.min_events, needed);
    // Nothing to learn from: the key keeps its threshold.
    if (!judged.length) return { key, windows: 0, threshold: oldThreshold(key), before, after: before };
    const alarmsAt = (t: number) => firings(list, t, opts.old.min_events, needed).alarms;
    const meeting = lowestMeeting(
      judged.map((w) => w.value),
      alarmsAt,
      perKey,
    );
    const threshold = round(meeting * (1 + opts.headroom));
    return {
      key,
      windows: judged.length,
      threshold,
      before,
      after: firings(list, threshold, opts.old.min_events, needed),
    };
  });
  const values = Object.fromEntries(calibrated.map((k) => [k.key, k.threshold]));
  const single = !opts.label || calibrated.length <= 1;
  const next: Tunable = {
    threshold: single
      ? (calibrated[0]?.threshold ?? opts.old.threshold)
      : Math.max(...calibrated.map((k) => k.threshold)),
    min_events: opts.old.min_events,
    ...(single ? {} : { per: { label: opts.label!, values } }),
    calibrated: {
      at: opts.at.toISOString(),
      history: opts.history,
      false_alarms_per_week: opts.falseAlarmsPerWeek,
      windows: Math.max(0, ...calibrated.map((k) => k.windows)),
    },
  };
  return {
    rule: opts.rule,
    windows: next.calibrated!.windows,
    old: opts.old,
    next,
    keys: calibrated,
    before: sum(calibrated.map((k) => k.before)),
    after: sum(calibrated.map((k) => k.after)),
  };
}

/** Three significant digits, rounded up (down would let the highest value fire): thresholds a person reads. */
function round(x: number): number {
  if (x <= 0) return 0;
  const scale = 10 ** (Math.floor(Math.log10(x)) - 2);
  return Number((Math.ceil(x / scale - 1e-9) * scale).toPrecision(3));
}
