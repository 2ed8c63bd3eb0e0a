/**
 * Jars from Maven Central for the services the native stack runs from the JVM (Kafka,
 * ZooKeeper): `mvn dependency:copy-dependencies` on one of an infra/<service>/pom.xml, into a git-ignored
 * folder, once; later starts are offline.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HitstreamError } from '../../lib/errors.ts';
import { REPO_ROOT } from './paths.ts';

export interface JarSet {
  /** For messages: `Kafka`, `ZooKeeper`. */
  what: string;
  /** infra/<pom>/pom.xml */
  pom: string;
  /** The pom's version property (`kafka.version`) and the value to fetch. */
  property: string;
  version: string;
  /** The jar whose presence means the set is there, by prefix: `kafka_2.13-4.4.0`. */
  marker: string;
  /** The setting that picks another version, named when Maven fails. */
  versionSetting: string;
  lib: string;
}

/** Resolves the set's jars once; returns its lib folder. */
export function ensureJars(set: JarSet, log: (msg: string) => void): string {
  if (existsSync(set.lib) && readdirSync(set.lib).some((f) => f.startsWith(set.marker))) return set.lib;
  const mvn = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0)
    throw new HitstreamError(
      'STACK_MISSING_TOOL',
      `mvn is missing: Maven fetches the ${set.what} jars from Maven Central (Debian: apt-get install maven).`,
    );
  log(`fetching ${set.what} ${set.version} jars from Maven Central into ${set.lib} (once)`);
  mkdirSync(set.lib, { recursive: true });
  // Maven 3.8 writes colour resets to both streams even with -q and style.color=never: its output
  // is kept and shown only when it fails.
  try {
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        '-Dstyle.color=never',
        '-f',
        join(REPO_ROOT, 'infra', set.pom, 'pom.xml'),
        'dependency:copy-dependencies',
        `-D${set.property}=${set.version}`,
        `-DoutputDirectory=${set.lib}`,
        '-DincludeScope=runtime',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
    );
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    process.stderr.write(stdout + stderr);
    throw new HitstreamError(
      `STACK_${set.pom.toUpperCase()}_JARS`,
      `Maven could not fetch the ${set.what} ${set.version} jars (its errors are above): check access to Maven Central, or pick another version with ${set.versionSetting}`,
    );
  }
  return set.lib;
}
