/**
 * The model sets a process serves: the live version (every event's four scores come from it) and
 * the shadow version, if one is set. They follow the role topic: a new version is downloaded from
 * the registry, checked, loaded and warmed up in the background, then swapped in by replacing one
 * reference. Callers read `live()` once per batch, so a batch is scored by one version only.
 * A version that cannot be loaded leaves the current one serving; the failure is logged, shown in
 * `status()` (and /health), and retried every 30 s.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createClickhouse } from '../lib/clickhouse.ts';
import type { Config } from '../lib/config.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { ARTIFACTS_DIR, type LoadedModels, loadModels } from '../models/model-set.ts';
import { fetchVersionInThread } from './load-thread.ts';
import { watchRoles } from './role-topic.ts';
import type { RoleState } from './roles.ts';
import { writeDriftReferences } from './references.ts';
import { readVersionDir } from './store.ts';

export interface ServedSet {
  version: string;
  models: LoadedModels;
}

export interface ServingStatus {
  live: string;
  shadow: string | null;
  /** What the roles ask for, when it differs from what is served (loading, or failed). */
  wanted: { live: string; shadow: string | null } | null;
  error: string | null;
  /** Failed loads per version since the process started. */
  loadFailures: Record<string, number>;
  swaps: number;
  lastSwapSeconds: number | null;
}

export interface Serving {
  live(): ServedSet;
  shadow(): ServedSet | undefined;
  /** A served set by version (live or shadow), for `/predict?version=`. */
  byVersion(version: string): ServedSet | undefined;
  status(): ServingStatus;
  /** Resolves when what is served matches the latest roles (tests, `models` commands). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

const RETRY_MS = 30_000;

/**
 * A registry version loaded for serving (or the one in memory already): downloaded into a folder
 * of its own, loaded, checked to use the live set's features, and warmed up briefly.
 */
async function loadVersion(
  version: string,
  ctx: {
    cache: string;
    loaded: Map<string, ServedSet>;
    cfg: Config;
    features: string[];
    liveVersion: string;
  },
): Promise<ServedSet> {
  const have = ctx.loaded.get(version);
  if (have) return have;
  // A folder of this load's own: two workers on one machine download at once, and the files
  // are not needed once the models are in memory.
  await mkdir(ctx.cache, { recursive: true });
  const parent = await mkdtemp(join(ctx.cache, 'load-'));
  let set: ServedSet;
  try {
    // Downloaded and its trees decoded in a worker thread; the arrays arrive ready to score with.
    const { dir, decoded } = await fetchVersionInThread({ cfg: ctx.cfg, version, parent });
    set = { version, models: await loadModels(dir, { rfPredictor: ctx.cfg.rfPredictor, decoded }) };
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
  if (JSON.stringify(set.models.features) !== JSON.stringify(ctx.features))
    throw new Error(`version ${version} uses other features than ${ctx.liveVersion}`);
  // A few batches, yielding between them: the scoring code is hot already (same kinds), and a
  // second of warm-up scoring delayed live batches by up to a second (bench swap p99).
  await set.models.warmUp({ seconds: 0 });
  ctx.loaded.set(version, set);
  return set;
}

export async function startServing(cfg: Config, log: Logger): Promise<Serving> {
  const localDir = cfg.modelsDir || ARTIFACTS_DIR;
  const local: ServedSet = {
    version: (await readVersionDir(localDir)).version,
    models: await loadModels(localDir, { rfPredictor: cfg.rfPredictor }),
  };
  await local.models.warmUp();
  const ch = createClickhouse(cfg, { timeoutMs: 120_000 });
  // The drift panels find a set's references in ClickHouse; the checkout's may never be pushed.
  await writeDriftReferences(ch, local.version, local.models).catch((err: unknown) =>
    log.warn({ err: describeError(err) }, 'drift references of the checkout models not written'),
  );
  const cache = join(cfg.home, 'models-cache');
  const loaded = new Map<string, ServedSet>([[local.version, local]]);

  let live = local;
  let shadow: ServedSet | undefined;
  let wanted: RoleState | undefined;
  let error: string | null = null;
  /** Failed loads per version since start: the `HitstreamVersionLoadFailed` alert counts them. */
  const loadFailures: Record<string, number> = {};
  let swaps = 0;
  let lastSwapSeconds: number | null = null;
  let work = Promise.resolve();
  let retry: NodeJS.Timeout | undefined;

  const load = (version: string) =>
    loadVersion(version, {
      cache,
      loaded,
      cfg,
      features: live.models.features,
      liveVersion: live.version,
    });

  async function apply(state: RoleState) {
    const t0 = performance.now();
    let loading = state.live;
    try {
      const nextLive = await load(state.live);
      loading = state.shadow ?? state.live;
      const nextShadow = state.shadow ? await load(state.shadow) : undefined;
      if (wanted !== state) return; // a newer state arrived meanwhile; it is applied next
      const changed = nextLive !== live || nextShadow !== shadow;
      live = nextLive;
      shadow = nextShadow;
      error = null;
      // Keep only what is served (and the checkout's set, the fallback): each set is ~50 MB.
      for (const v of loaded.keys())
        if (v !== live.version && v !== shadow?.version && v !== local.version) loaded.delete(v);
      if (changed) {
        swaps++;
        lastSwapSeconds = (performance.now() - t0) / 1000;
        log.info(
          { live: live.version, shadow: shadow?.version ?? null, seconds: lastSwapSeconds.toFixed(2) },
          'models swapped',
        );
      }
    } catch (err) {
      error = describeError(err);
      loadFailures[loading] = (loadFailures[loading] ?? 0) + 1;
      log.error(
        { wanted: { live: state.live, shadow: state.shadow }, serving: live.version, err: error },
        `cannot load the versions the roles ask for; still serving ${live.version}, retrying in ${RETRY_MS / 1000} s`,
      );
      clearTimeout(retry);
      retry = setTimeout(() => wanted === state && schedule(state), RETRY_MS);
      retry.unref();
    }
  }
  const schedule = (state: RoleState) => {
    wanted = state;
    work = work.then(() => (wanted === state ? apply(state) : undefined));
  };

  const watcher = await watchRoles(cfg, log, schedule);
  const initial = await watcher.initial;
  if (!initial)
    log.warn(
      { version: local.version, topic: cfg.topicModels },
      "no model roles published yet: serving the checkout's models as live (`npx hitstream models push` and `promote` register versions; `up` does it for you)",
    );
  await work; // the first state is loaded before the process serves anything

  return {
    live: () => live,
    shadow: () => shadow,
    byVersion: (v) => (live.version === v ? live : shadow?.version === v ? shadow : undefined),
    status: () => ({
      live: live.version,
      shadow: shadow?.version ?? null,
      wanted:
        wanted && (wanted.live !== live.version || (wanted.shadow ?? null) !== (shadow?.version ?? null))
          ? { live: wanted.live, shadow: wanted.shadow }
          : null,
      error,
      loadFailures: { ...loadFailures },
      swaps,
      lastSwapSeconds,
    }),
    settled: async () => {
      for (;;) {
        const before = work;
        await before;
        if (work === before) return;
      }
    },
    async stop() {
      clearTimeout(retry);
      await watcher.stop();
      await ch.close();
    },
  };
}

/** The version id of a loaded set: what its manifests' versions share after `<model>-`. */
export const versionOf = (models: LoadedModels) => models.manifests.rf.version.replace(/^rf-/, '');

/** A fixed set, served as live with no registry (tests, `bench models`, offline tools). */
export function servingOf(models: LoadedModels, version = versionOf(models)): Serving {
  const set = { version, models };
  return {
    live: () => set,
    shadow: () => undefined,
    byVersion: (v) => (v === version ? set : undefined),
    status: () => ({
      live: version,
      shadow: null,
      wanted: null,
      error: null,
      loadFailures: {},
      swaps: 0,
      lastSwapSeconds: null,
    }),
    settled: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
}
