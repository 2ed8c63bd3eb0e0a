/**
 * No Kubernetes cluster runs on the project's machines, so deploy/'s structure is checked here:
 * every variable is a real setting and secrets stay in the Secret, images, commands and probes
 * match what the processes serve, and the KEDA trigger reads the group and topic the workers use.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { SETTINGS } from '../../lib/config.ts';

interface Doc {
  kind: string;
  metadata: { name: string };
  [k: string]: unknown;
}
interface Container {
  image: string;
  command: string[];
  envFrom: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: unknown;
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { memory?: string } };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
}

const DIR = 'deploy';
/** KEDA's names of the SASL mechanisms (its Kafka scaler's `sasl` parameter). */
const KEDA_SASL: Record<string, string> = {
  plain: 'plaintext',
  'scram-sha-256': 'scram_sha256',
  'scram-sha-512': 'scram_sha512',
};
const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as {
  resources: string[];
  secretGenerator: { name: string; envs?: string[]; literals?: string[] }[];
  images: { name: string }[];
};
const docs: Doc[] = kustomization.resources.flatMap((f) =>
  parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJS() as Doc),
);
const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
const named = (kind: string, name: string) => {
  const d = byKind(kind).find((x) => x.metadata.name === name);
  assert.ok(d, `${kind} ${name}`);
  return d;
};
const settings = Object.values(SETTINGS) as { env: string; default: string; secret?: boolean }[];
const settingNames = new Set(settings.map((s) => s.env));
const config = (named('ConfigMap', 'hitstream-config') as Doc & { data: Record<string, string> }).data;
const secretKeys = readFileSync(join(DIR, 'secrets.env.example'), 'utf8')
  .split('\n')
  .filter((l) => /^[A-Z_]+=/.test(l))
  .map((l) => l.split('=')[0]!);
const value = (env: string) => config[env] ?? settings.find((s) => s.env === env)!.default;
const podOf = (d: Doc) => (d as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

test('kustomization lists files that exist, and the secrets file is git-ignored with an example', () => {
  for (const f of kustomization.resources) assert.ok(existsSync(join(DIR, f)), f);
  assert.ok(existsSync(join(DIR, 'secrets.env.example')));
  assert.match(readFileSync('.gitignore', 'utf8'), /^deploy\/secrets\.env$/m);
});

test('every ConfigMap and Secret variable is a setting of the config table; secrets only in the Secret', () => {
  for (const k of [...Object.keys(config), ...secretKeys])
    assert.ok(settingNames.has(k), `${k} is not a setting`);
  for (const s of settings.filter((x) => x.secret)) {
    assert.ok(!(s.env in config), `${s.env} is a secret but sits in the ConfigMap`);
    assert.ok(secretKeys.includes(s.env), `${s.env} missing from secrets.env.example`);
  }
});

test('worker and API Deployments: the image, their command, config and secrets, probes on /health, requests, grace period', () => {
  const image = kustomization.images[0]!.name;
  for (const [name, command, port] of [
    ['hitstream-worker', 'worker', 'HITSTREAM_WORKER_PORT'],
    ['hitstream-api', 'api', 'HITSTREAM_API_PORT'],
  ] as const) {
    const pod = podOf(named('Deployment', name));
    const c = pod.containers[0]!;
    assert.equal(c.image, image, name);
    assert.deepEqual(c.command.slice(-2), ['bin/hitstream.js', command], name);
    assert.deepEqual(
      c.envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name),
      ['hitstream-config', 'hitstream-secrets'],
    );
    const probe = c.readinessProbe?.httpGet;
    assert.equal(probe?.path, '/health', `${name} readiness`);
    assert.equal(
      c.ports?.find((p) => p.name === probe?.port)?.containerPort,
      Number(value(port)),
      `${name} port`,
    );
    assert.ok(c.livenessProbe, `${name} liveness`);
    assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, name);
    assert.ok(
      (pod.terminationGracePeriodSeconds ?? 30) * 1000 > Number(value('HITSTREAM_SHUTDOWN_TIMEOUT_MS')),
      `${name}: the grace period must outlast HITSTREAM_SHUTDOWN_TIMEOUT_MS`,
    );
  }
  assert.equal(value('HITSTREAM_WORKER_HOST'), '0.0.0.0');
  assert.equal(value('HITSTREAM_API_HOST'), '0.0.0.0');
  const svc = named('Service', 'hitstream-api') as Doc & { spec: { selector: Record<string, string> } };
  assert.deepEqual(svc.spec.selector, { 'app.kubernetes.io/name': 'hitstream-api' });
});

test('migrations run as a Job with the same config', () => {
  const job = named('Job', 'hitstream-migrate');
  const c = podOf(job).containers[0]!;
  assert.deepEqual(c.command, ['node', 'bin/hitstream.js', 'migrate']);
  assert.equal(c.envFrom.length, 2);
});

test('KEDA scales the worker Deployment on the lag of the workers’ group and topic, up to the partition count', () => {
  const so = named('ScaledObject', 'hitstream-worker') as Doc & {
    spec: {
      scaleTargetRef: { name: string };
      maxReplicaCount: number;
      minReplicaCount: number;
      triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[];
    };
  };
  assert.equal(so.spec.scaleTargetRef.name, 'hitstream-worker');
  assert.ok(so.spec.minReplicaCount >= 1);
  assert.ok(
    so.spec.maxReplicaCount <= Number(value('HITSTREAM_TRACKS_PARTITIONS')),
    'idle workers past the partitions',
  );
  const [t] = so.spec.triggers;
  assert.equal(t?.type, 'kafka');
  assert.equal(t.metadata.bootstrapServers, value('KAFKA_BROKERS'));
  assert.equal(t.metadata.consumerGroup, value('HITSTREAM_CONSUMER_GROUP'));
  assert.equal(t.metadata.topic, value('HITSTREAM_TOPIC_TRACKS'));
  assert.match(t.metadata.lagThreshold ?? '', /^\d+$/);
  assert.match(t.metadata.offsetResetPolicy ?? '', /^(earliest|latest)$/);

  const auth = named('TriggerAuthentication', t.authenticationRef.name) as Doc & {
    spec: { secretTargetRef: { parameter: string; name: string; key: string }[] };
  };
  const generated = new Map(kustomization.secretGenerator.map((g) => [g.name, g]));
  const literal = (name: string, key: string) =>
    generated
      .get(name)
      ?.literals?.find((l) => l.startsWith(`${key}=`))
      ?.split('=')[1];
  for (const ref of auth.spec.secretTargetRef) {
    const g = generated.get(ref.name);
    assert.ok(g, `secret ${ref.name} is generated`);
    if (g.envs) assert.ok(secretKeys.includes(ref.key), `${ref.name}.${ref.key}`);
    else assert.ok(literal(ref.name, ref.key), `${ref.name}.${ref.key}`);
  }
  // KEDA's mode words say what KAFKA_SECURITY_PROTOCOL and KAFKA_SASL_MECHANISM say.
  assert.equal(literal('hitstream-keda-kafka', 'sasl'), KEDA_SASL[value('KAFKA_SASL_MECHANISM')]);
  assert.equal(
    literal('hitstream-keda-kafka', 'tls'),
    value('KAFKA_SECURITY_PROTOCOL').endsWith('SSL') ? 'enable' : 'disable',
  );
});

test('monitoring: the PodMonitors and the plain scrape config give the jobs the alert rules name, on the pods that serve /metrics', () => {
  const docs = (path: string) =>
    parseAllDocuments(readFileSync(path, 'utf8')).map(
      (d) => d.toJS() as Doc & { spec: Record<string, unknown> },
    );
  const rules = readFileSync('alerts/generated/prometheus-rules.yml', 'utf8');
  const pods = new Map(
    ['worker.yaml', 'api.yaml', 'autopilot.yaml'].map((f) => {
      const d = docs(join(DIR, f))[0]! as unknown as {
        spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
      };
      return [d.spec.template.metadata.labels['app.kubernetes.io/name']!, d.spec.template] as const;
    }),
  );
  const monitors = docs(join(DIR, 'monitoring/pod-monitors.yaml'));
  assert.equal(monitors.length, 3);
  for (const m of monitors) {
    const spec = m.spec as {
      jobLabel: string;
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: { port: string }[];
    };
    const pod = pods.get(spec.selector.matchLabels['app.kubernetes.io/name']!);
    assert.ok(pod, `${m.metadata.name} selects no Deployment's pods`);
    const job = pod.metadata.labels[spec.jobLabel];
    assert.ok(job && rules.includes(job), `${m.metadata.name}: job ${job} is not a job the rules name`);
    const ports = pod.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name));
    for (const e of spec.podMetricsEndpoints)
      assert.ok(ports.includes(e.port), `${m.metadata.name}: port ${e.port}`);
  }
  const plain = docs(join(DIR, 'monitoring/plain/prometheus-scrape.yml'))[0] as unknown as {
    scrape_configs: { job_name: string }[];
  };
  for (const j of plain.scrape_configs) assert.ok(rules.includes(j.job_name), j.job_name);
  const kustomization = docs(join(DIR, 'monitoring/kustomization.yaml'))[0] as unknown as {
    resources: string[];
  };
  for (const r of kustomization.resources) assert.ok(existsSync(join(DIR, 'monitoring', r)), r);
});
