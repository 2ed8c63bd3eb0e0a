/**
 * CPU time each part of the stack spent during a bench phase, per event. Latency on a shared,
 * noisy 2-core machine moves 2-5x between runs of the same code; CPU time per event moves far
 * less, so it shows whether a change made the work smaller. Read from /proc (Linux): processes
 * we cannot see (Docker, another host) are left out, not guessed.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../lib/config.ts';
import { clickhouseProcess } from '../infra/stack/clickhouse-native.ts';
import { everyKafkaNode, nodeProcess } from '../infra/stack/kafka-native.ts';
import { runningPid } from '../infra/stack/processes.ts';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state; utime and stime are
    // fields 14 and 15 of the whole line, so 12 and 13 after the closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export type CpuSnapshot = Record<string, number>;

/** CPU seconds so far of the bench itself, the given child processes and the native stack's. */
export function cpuSnapshot(cfg: Config, children: Record<string, number | undefined>): CpuSnapshot {
  const usage = process.cpuUsage();
  const out: CpuSnapshot = { bench: (usage.user + usage.system) / 1e6 };
  // A cluster's nodes as kafka1, kafka2 … (summed as `kafkas`) and kafkacontroller.
  const kafka = Object.fromEntries(
    everyKafkaNode(cfg).map((n) => [n.name.replace('-', ''), runningPid(nodeProcess(cfg, n))]),
  );
  // The caller's names win (a bench on a Kafka cluster of its own passes the ClickHouse it uses).
  const given = Object.fromEntries(Object.entries(children).filter(([, pid]) => pid !== undefined));
  const pids = { ...kafka, clickhouse: runningPid(clickhouseProcess(cfg)), ...given };
  for (const [name, pid] of Object.entries(pids)) {
    const s = pid === undefined ? undefined : cpuSecondsOf(pid);
    if (s !== undefined) out[name] = s;
  }
  return out;
}

/**
 * CPU milliseconds per event between two snapshots, per part and in total; parts with the same
 * prefix before a digit (worker1, worker2) are also summed as one (`workers`).
 */
export function cpuMsPerEvent(before: CpuSnapshot, after: CpuSnapshot, events: number) {
  const per: Record<string, number> = {};
  const groups: Record<string, number> = {};
  let total = 0;
  for (const [name, end] of Object.entries(after)) {
    const start = before[name];
    if (start === undefined || events <= 0) continue;
    const ms = ((end - start) * 1000) / events;
    per[name] = ms;
    total += ms;
    const group = /^(\D+)\d+$/.exec(name)?.[1];
    if (group) groups[`${group}s`] = (groups[`${group}s`] ?? 0) + ms;
  }
  Object.assign(per, groups);
  per.total = total;
  return Object.fromEntries(Object.entries(per).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
}

/** The whole machine's CPU time so far, from /proc/stat's first line (all cores, in ticks). */
export function hostSnapshot(): { total: number; idle: number; steal: number } | undefined {
  try {
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const busy = user! + nice! + system! + irq! + softirq!;
    return { total: busy + idle! + iowait! + steal!, idle: idle! + iowait!, steal: steal! };
  } catch {
    return undefined;
  }
}

/**
 * How busy the machine was between two snapshots, in % of all its cores: `busy` is every
 * process's CPU (the stack's and anything else's), `steal` is time the hypervisor gave to other
 * guests. A run with high steal measured a slower machine, not slower code.
 */
export function hostCpuPct(
  before: ReturnType<typeof hostSnapshot>,
  after: ReturnType<typeof hostSnapshot>,
): { busy: number; steal: number } | undefined {
  if (!before || !after || after.total <= before.total) return undefined;
  const total = after.total - before.total;
  const pct = (x: number) => Math.round((1000 * x) / total) / 10;
  const steal = after.steal - before.steal;
  return { busy: pct(total - (after.idle - before.idle) - steal), steal: pct(steal) };
}
