/**
 * The promotion test: is a challenger's squared error lower than the incumbent's, on the same
 * labelled events, by at least a margin? Checked after every event, as labels arrive, and still
 * valid however often it is checked.
 *
 * A window comparison (RMSE of the last hour, checked every minute) passes by chance sooner or
 * later: each look is another draw. A confidence sequence is a band around the running mean that
 * covers the true mean at *every* time at once with probability 1 - α, so stopping at the first
 * time it excludes the margin keeps the error rate at α. We use the Gaussian-mixture asymptotic
 * confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas ("Time-uniform central
 * limit theory and asymptotic confidence sequences", Ann. Statist. 2024), the one online A/B tests
 * use: it needs only a finite variance (squared-error differences are unbounded and skewed, so
 * bounded or sub-Gaussian sequences do not apply), and it uses the running sample variance.
 *
 * Per event i the paired difference is d_i = (1 - m)·e_inc,i² - e_ch,i², where m is the margin as a
 * share of the incumbent's MSE. mean(d) > 0 exactly when the challenger's MSE is below (1 - m) times
 * the incumbent's. The band is two-sided at level α, so declaring "better" wrongly happens with
 * probability at most α/2, and α is the stated bound on false promotions.
 */

export interface SequentialOptions {
  /** The false-decision rate of the two-sided band (false promotions stay below it). */
  alpha: number;
  /** How much lower the challenger's MSE must be, as a share of the incumbent's: 0.02 = 2 %. */
  margin: number;
  /** No decision before this many paired events (the band is asymptotic: it needs a few). */
  minEvents: number;
  /** The number of events the band is tightest at (it is valid at every other too). */
  tuneAt?: number;
}

export type Decision = 'better' | 'not better' | 'undecided';

export interface SequentialState {
  decision: Decision;
  /** Paired events seen so far, and the event at which the decision was reached (0: none yet). */
  events: number;
  decidedAt: number;
  /** The running mean of d and its band, in squared points. */
  mean: number;
  lower: number;
  upper: number;
  /** MSE of each side over the events seen. */
  incumbentMse: number;
  challengerMse: number;
  alpha: number;
  margin: number;
}

/** ρ that makes the band tightest at `t` events (the paper's choice for a mixture width). */
const rhoFor = (alpha: number, t: number) =>
  Math.sqrt((-2 * Math.log(alpha) + Math.log(-2 * Math.log(alpha) + 1)) / t);

/** The band's half-width after t events with sample standard deviation sd. */
export function halfWidth(t: number, sd: number, alpha: number, rho: number): number {
  const r2 = rho * rho;
  return sd * Math.sqrt(((2 * (t * r2 + 1)) / (t * t * r2)) * Math.log(Math.sqrt(t * r2 + 1) / alpha));
}

/**
 * Follows the paired errors in order and stops at the first event where the band leaves zero:
 * above it, the challenger is better by the margin; below it, it is not. Welford's running
 * mean and variance, so one pass over any number of events.
 */
export function sequentialTest(
  pairs: Iterable<{ incumbent: number; challenger: number }>,
  opts: SequentialOptions,
): SequentialState {
  const rho = rhoFor(opts.alpha, opts.tuneAt ?? 500);
  let n = 0;
  let mean = 0;
  let m2 = 0;
  let incSq = 0;
  let chSq = 0;
  let lower = -Infinity;
  let upper = Infinity;
  let decision: Decision = 'undecided';
  let decidedAt = 0;
  for (const p of pairs) {
    const inc = p.incumbent * p.incumbent;
    const ch = p.challenger * p.challenger;
    const d = (1 - opts.margin) * inc - ch;
    n++;
    incSq += inc;
    chSq += ch;
    const delta = d - mean;
    mean += delta / n;
    m2 += delta * (d - mean);
    if (n < Math.max(2, opts.minEvents)) continue;
    const w = halfWidth(n, Math.sqrt(m2 / (n - 1)), opts.alpha, rho);
    lower = mean - w;
    upper = mean + w;
    if (lower > 0 || upper < 0) {
      decision = lower > 0 ? 'better' : 'not better';
      decidedAt = n;
      break;
    }
  }
  return {
    decision,
    events: n,
    decidedAt,
    mean,
    lower,
    upper,
    incumbentMse: n ? incSq / n : 0,
    challengerMse: n ? chSq / n : 0,
    alpha: opts.alpha,
    margin: opts.margin,
  };
}

/** One line for a terminal, a log or the audit trail. */
export function describeTest(
  s: SequentialState,
  names = { challenger: 'challenger', incumbent: 'incumbent' },
) {
  const rmse = (mse: number) => Math.sqrt(mse).toFixed(2);
  const band = Number.isFinite(s.lower)
    ? `[${s.lower.toFixed(1)}, ${s.upper.toFixed(1)}]`
    : '(too few events)';
  const verdict =
    s.decision === 'better'
      ? `${names.challenger} is better by the margin (decided at event ${s.decidedAt})`
      : s.decision === 'not better'
        ? `${names.challenger} is not better by the margin (decided at event ${s.decidedAt})`
        : 'undecided';
  const head = `sequential test (α ${s.alpha}, margin ${(s.margin * 100).toFixed(0)} % of MSE): ${verdict}`;
  if (!s.events) return `${head}; no paired labelled events yet`;
  return `${head}; ${s.events} paired labelled events, RMSE ${names.incumbent} ${rmse(s.incumbentMse)} vs ${names.challenger} ${rmse(s.challengerMse)}, mean squared-error gain ${s.mean.toFixed(1)} in ${band}`;
}
