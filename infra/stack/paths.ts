import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../lib/config.ts';

/** The repository root (infra/stack/ is two levels down). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the native stack keeps everything it owns; all of it is git-ignored. */
export function stackPaths(cfg: Config) {
  const home = resolve(cfg.home);
  return {
    home,
    kafkaLib: resolve(home, 'kafka', cfg.kafkaVersion, 'lib'),
    kafkaDir: resolve(home, 'kafka'),
    kafkaData: resolve(home, 'kafka', 'data'),
    clickhouseDir: resolve(home, 'clickhouse'),
    tls: resolve(home, 'tls'),
    run: resolve(home, 'run'),
    logs: resolve(home, 'logs'),
  };
}
