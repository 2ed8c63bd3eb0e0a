/**
 * What `hitstream models …` and `up` do with the registry: push a folder as a version, change
 * roles (checked by `roles.ts`, published on the role topic, written to the audit trail),
 * compare live with shadow on labelled events, and gate a promotion on that comparison.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createClickhouse } from '../lib/clickhouse.ts';
import type { Config } from '../lib/config.ts';
import { HitstreamError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { type ComparisonRow, compareSql, comparisonTable, parseComparison, worseModels } from './compare.ts';
import { judge, servedScore } from './judge.ts';
import { describeTest } from './sequential-test.ts';
import { publishRoles, readRoles } from './role-topic.ts';
import { applyRoleChange, type RoleChange, roleOf, type RoleState } from './roles.ts';
import { createModelStore } from './store.ts';

/** Who changes a role, for the audit trail: HITSTREAM_USER, else user@host. */
export const actor = () => process.env.HITSTREAM_USER || `${userInfo().username}@${hostname()}`;

/** `by` names who changes roles in the audit trail (the autopilot passes its own name). */
export function createLifecycle(cfg: Config, log: Logger, opts: { by?: string } = {}) {
  const ch = createClickhouse(cfg, { timeoutMs: 120_000 });
  const store = createModelStore(ch);
  const by = () => opts.by ?? actor();

  async function change(c: RoleChange, opts: { force?: boolean } = {}): Promise<RoleState> {
    const [state, versions] = await Promise.all([readRoles(cfg, log), store.list()]);
    const known = new Set(versions.map((v) => v.version));
    const next = applyRoleChange(state, c, { known, by: by(), now: new Date() });
    if ('version' in c && c.action !== 'register') await checkServable(c.version, state, versions);
    await publishRoles(cfg, next);
    await store.recordRoleChange({
      seq: next.seq,
      at: new Date(next.at),
      by: next.by,
      action: next.action,
      version: 'version' in c ? c.version : '',
      live: next.live,
      shadow: next.shadow,
      forced: Boolean(opts.force),
    });
    return next;
  }

  /** Refuses a version whose files do not check out, or whose features differ from live's. */
  async function checkServable(
    version: string,
    state: RoleState | undefined,
    versions: Awaited<ReturnType<typeof store.list>>,
  ) {
    const record = versions.find((v) => v.version === version)!;
    const live = state && versions.find((v) => v.version === state.live);
    if (live && JSON.stringify(live.features) !== JSON.stringify(record.features)) {
      const differ = [
        ...record.features.filter((f) => !live.features.includes(f)),
        ...live.features.filter((f) => !record.features.includes(f)),
      ];
      throw new HitstreamError(
        'version_features_differ',
        `${version} uses other features than live ${live.version}: ${differ.join(', ') || 'same names, other order'}`,
        { field: 'VERSION' },
      );
    }
    const dir = await mkdtemp(join(tmpdir(), 'hitstream-check-'));
    try {
      await store.download(version, dir); // every file against its checksum
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function compare(windowSeconds: number, shadowVersion?: string) {
    const state = await readRoles(cfg, log);
    const shadow = shadowVersion ?? state?.shadow;
    if (!state || !shadow)
      throw new HitstreamError(
        'no_shadow',
        'no shadow version to compare with live: `models shadow VERSION` first',
      );
    const rs = await ch.query({ query: compareSql(shadow, windowSeconds), format: 'JSONEachRow' });
    const rows = parseComparison(await rs.json<Record<string, unknown>>());
    const test = await sequential(state.live, shadow, new Date(Date.now() - windowSeconds * 1000));
    return { live: state.live, shadow, rows, table: comparisonTable(rows, state.live, shadow), test };
  }

  /** The sequential test of `challenger` (shadow rows) against `live`, each on its served score. */
  async function sequential(live: string, challenger: string, since: Date) {
    const [a, b] = await Promise.all([store.get(live), store.get(challenger)]);
    if (!a || !b) return undefined; // a version from before the registry: no manifest to read
    return judge(
      ch,
      {
        incumbent: { version: live, score: servedScore(a) },
        challenger: { version: challenger, score: servedScore(b) },
      },
      since,
    );
  }

  return {
    store,
    list: async () => {
      const [state, versions] = await Promise.all([readRoles(cfg, log), store.list()]);
      return { state, versions: versions.map((v) => ({ ...v, role: roleOf(state, v.version) })) };
    },
    push: (dir: string, onProgress?: (done: number, total: number) => void, opts?: { reportFile?: string }) =>
      store.push(dir, by(), onProgress, opts),
    shadow: (version: string) => change({ action: 'shadow', version }),
    shadowOff: () => change({ action: 'shadow-off' }),
    rollback: () => change({ action: 'rollback' }),
    compare,
    /**
     * Makes `version` live. Unless forced, it must have been scored beside live (as shadow, or by
     * a backfill) on labelled events of the window, and the sequential test (judge.ts) must show
     * its served score better than live's: a window's RMSE, looked at until it happens to be
     * lower, would let an equal version through sooner or later.
     */
    async promote(version: string, opts: { force?: boolean; windowSeconds?: number } = {}) {
      if (!(await store.get(version)))
        throw new HitstreamError(
          'role_refused',
          `version ${version} is not in the registry: push it first (\`npx hitstream models push\`)`,
          { field: 'VERSION' },
        );
      if (!opts.force) {
        let rows: ComparisonRow[] = [];
        let table = '';
        let test: Awaited<ReturnType<typeof sequential>>;
        const state = await readRoles(cfg, log);
        if (state && state.live !== version)
          ({ rows, table, test } = await compare(opts.windowSeconds ?? 3600, version));
        if (state && state.live !== version && !rows.some((r) => r.n > 0))
          throw new HitstreamError(
            'promote_refused',
            `no labelled events were scored by ${version} beside live ${state.live} in the window: shadow it first (\`models shadow ${version}\`), or --force`,
            { field: 'VERSION' },
          );
        const worse = worseModels(rows);
        if (state && test && test.decision !== 'better')
          throw new HitstreamError(
            'promote_refused',
            `${version} is not shown better than live ${state.live}: ${describeTest(test, { challenger: version, incumbent: state.live })}${worse.length ? `; by RMSE in the window it is worse than live on ${worse.map((r) => r.model).join(', ')}` : ''}. Wait for more labels, or --force promotes it anyway\n${table}`,
            { field: 'VERSION' },
          );
        if (!test && worse.length)
          throw new HitstreamError(
            'promote_refused',
            `${version} is worse than live on ${worse.map((r) => r.model).join(', ')} (RMSE on labelled events); --force promotes it anyway\n${table}`,
            { field: 'VERSION' },
          );
      }
      return change({ action: 'promote', version }, opts);
    },
    /**
     * What `up` does on a fresh registry: push `dir` and make it live, when no role exists yet.
     * Returns the version, and whether it did anything.
     */
    async registerIfEmpty(dir: string) {
      const state = await readRoles(cfg, log);
      if (state) return { version: state.live, registered: false };
      const pushed = await store.push(dir, by());
      const next = await change({ action: 'register', version: pushed.version });
      return { version: next.live, registered: true };
    },
    close: () => ch.close(),
  };
}
