/**
 * The phases of a run, each a function of the run's context: `prepare` (train, push, shadow,
 * backfill: one sequence), then, once per check, `judgeCandidate`, `awaitApproval` or
 * `watchProbation`, each of which either records its decision or waits for more labels.
 */
import { describeTest } from '../registry/sequential-test.ts';
import { seconds } from './policy.ts';
import { previousLive, type Run, type RunContext, testFigures, testOptions, trainedOn } from './run.ts';

/** Train, push, backfill, shadow: one sequence; a failure ends the run, live untouched. */
export async function prepare(c: RunContext, r: Run) {
  try {
    const trained = await c.metrics.timed('train', () => c.act.train(r.cut));
    const { dir, ...figures } = trained;
    await c.step(
      r,
      'trained',
      'training',
      `trained on ${trained.trainRows} labelled rows in ${trained.seconds.toFixed(0)} s`,
      figures,
    );
    r.candidate = await c.metrics.timed('push', () => c.act.push(dir));
    await c.step(r, 'pushed', 'training', `pushed as ${r.candidate}`, {});
    // Shadow first, then backfill from the training cut: the events stored while the workers
    // load the shadow are then scored by the backfill (a row scored twice is one row).
    const roles = await c.act.roles();
    if (roles?.shadow) await c.act.shadowOff();
    await c.act.shadow(r.candidate);
    const filled = await c.metrics.timed('backfill', () => c.act.backfill(r.candidate!, r.cut));
    await c.step(
      r,
      'backfilled',
      'training',
      `scored the ${filled.events} events stored since the training cut`,
      filled,
    );
    r.judgingFrom = c.now();
    await c.step(
      r,
      'shadowed',
      'judging',
      `shadowing ${r.candidate} beside live ${roles?.live}${roles?.shadow ? ` (it replaced shadow ${roles.shadow})` : ''}`,
      { live: roles?.live, judging_from: r.judgingFrom.toISOString() },
    );
  } catch (err) {
    const roles = await c.act.roles().catch(() => undefined);
    if (r.candidate && roles?.shadow === r.candidate) await c.act.shadowOff().catch(() => undefined);
    await c
      .finish(r, 'failed', `${(err as Error).message}; live untouched`)
      .catch((e: unknown) => c.log.error({ err: e }, 'could not record the failed run'));
  } finally {
    r.busy = false;
  }
}

/** judging: the test on the candidate against live, on events since the training cut. */
export async function judgeCandidate(c: RunContext, r: Run) {
  const roles = await c.act.roles();
  if (!roles || roles.shadow !== r.candidate)
    return c.finish(
      r,
      'ended',
      `the roles changed outside the autopilot (live ${roles?.live}, shadow ${roles?.shadow ?? 'none'}); ${r.candidate} no longer judged`,
    );
  const j = await c.act.judge(roles.live, r.candidate, r.cut, {
    test: testOptions(c.policy, c.policy.judging.margin),
    unseen: trainedOn(c.policy, r),
  });
  c.metrics.testEvents(j.events);
  const line = describeTest(j, { challenger: r.candidate, incumbent: roles.live });
  const figures = testFigures(j);
  if (j.decision === 'better') {
    if (c.policy.mode === 'approve') {
      await c.step(
        r,
        'awaiting approval',
        'approval',
        `${line}; approve with \`npx hitstream models promote ${r.candidate}\` or on the Models page`,
        figures,
      );
      return c.act.notify({ run: r.id, outcome: 'awaiting approval', version: r.candidate, summary: line });
    }
    await c.act.promote(r.candidate);
    return enterProbation(c, r, roles.live, 'promoted', line, figures);
  }
  const overdue = c.now().getTime() - r.judgingFrom!.getTime() >= seconds(c.policy.judging.window) * 1000;
  if (j.decision === 'not better' || overdue) {
    await c.act.shadowOff();
    return c.finish(
      r,
      'retired',
      j.decision === 'not better' ? line : `${line}; judging.window (${c.policy.judging.window}) is over`,
      figures,
    );
  }
  c.log.debug({ run: r.id, ...figures }, line);
}

/** approval: waits for a person to promote the candidate (or to turn it away). */
export async function awaitApproval(c: RunContext, r: Run) {
  const roles = await c.act.roles();
  if (roles && roles.live === r.candidate)
    return enterProbation(c, r, previousLive(roles), 'approved', `approved by ${roles.by}`, {}, roles.by);
  if (roles?.shadow !== r.candidate)
    return c.finish(r, 'retired', `${r.candidate} is no longer the shadow: turned away by ${roles?.by}`);
  if (c.now().getTime() - r.judgingFrom!.getTime() >= seconds(c.policy.judging.window) * 1000) {
    await c.act.shadowOff();
    return c.finish(r, 'retired', `not approved within judging.window (${c.policy.judging.window})`);
  }
}

async function enterProbation(
  c: RunContext,
  r: Run,
  replaced: string,
  name: string,
  reason: string,
  figures: Record<string, unknown>,
  by = 'autopilot',
) {
  r.replaced = replaced;
  r.promotedAt = c.now();
  await c.step(
    r,
    name,
    'probation',
    reason,
    { ...figures, replaced, promoted_at: r.promotedAt.toISOString() },
    by,
  );
  if (replaced) await c.act.shadow(replaced);
  await c.step(
    r,
    'probation',
    'probation',
    `${replaced} shadowed for ${c.policy.guardrails.probation}: a worse ${r.candidate} is rolled back`,
    {},
  );
}

/** probation: the replaced version, as shadow, against the new live one. */
export async function watchProbation(c: RunContext, r: Run) {
  const roles = await c.act.roles();
  if (!roles || roles.live !== r.candidate)
    return c.finish(
      r,
      'ended',
      `${r.candidate} is no longer live (live ${roles?.live}, by ${roles?.by}); probation ends`,
    );
  const j = r.replaced
    ? await c.act.judge(r.candidate, r.replaced, r.promotedAt!, {
        test: testOptions(c.policy, 0),
        unseen: trainedOn(c.policy, r),
      })
    : undefined;
  const line = j
    ? describeTest(j, { challenger: r.replaced!, incumbent: r.candidate })
    : 'no version to compare with';
  if (j?.decision === 'better') {
    await c.act.rollback();
    return c.finish(
      r,
      'rolled back',
      `${r.candidate} did worse than ${r.replaced} in probation: ${line}`,
      testFigures(j),
    );
  }
  const over = c.now().getTime() - r.promotedAt!.getTime() >= seconds(c.policy.guardrails.probation) * 1000;
  if (j?.decision === 'not better' || over || !r.replaced) {
    if (roles.shadow === r.replaced) await c.act.shadowOff();
    return c.finish(r, 'promoted', `${r.candidate} kept after probation: ${line}`, j ? testFigures(j) : {});
  }
}
