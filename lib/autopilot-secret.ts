/**
 * The shared secret of the autopilot's webhook. Set HITSTREAM_AUTOPILOT_SECRET on a cluster; on one
 * box the native stack generates one into HITSTREAM_HOME/autopilot/secret (mode 600), which its
 * Alertmanager sends (`credentials_file`) and the autopilot reads: no step for a person, and no
 * webhook open without one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Config } from './config.ts';

export const autopilotSecretFile = (cfg: Config) => resolve(cfg.home, 'autopilot', 'secret');

/** The secret: the setting, else the file's (written first when missing). */
export function autopilotSecret(cfg: Config): string {
  if (cfg.autopilotSecret) return cfg.autopilotSecret;
  const file = autopilotSecretFile(cfg);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(24).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}
