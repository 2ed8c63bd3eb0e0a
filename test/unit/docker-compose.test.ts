/** No Docker engine runs on the project's machines, so the compose file's structure is checked here. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';

interface Service {
  image?: string;
  build?: unknown;
  volumes?: string[];
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service> };
const services = compose.services;

test('compose has the whole pipeline', () => {
  for (const s of ['kafka', 'clickhouse', 'grafana', 'migrate', 'worker', 'api'])
    assert.ok(services[s], `service ${s}`);
});

test('every image is pinned to a version, and services are built from the Dockerfile', () => {
  for (const [name, s] of Object.entries(services)) {
    if (s.image) assert.match(s.image, /:v?[0-9][\w.-]*$/, `${name} image ${s.image} is not pinned`);
    else assert.ok(s.build, `${name} has neither image nor build`);
  }
  assert.ok(existsSync('Dockerfile'));
});

test('ClickHouse is a current release (the Grafana plugin needs one)', () => {
  const v = Number(/:(\d+)\./.exec(services.clickhouse!.image!)?.[1]);
  assert.ok(v >= 24, `clickhouse image ${services.clickhouse!.image}`);
});

test('mounted host paths exist', () => {
  for (const [name, s] of Object.entries(services))
    for (const v of s.volumes ?? []) {
      const host = v.split(':')[0]!;
      if (host.startsWith('.')) assert.ok(existsSync(host), `${name} mounts missing ${host}`);
    }
});

test('long-running services have healthchecks and wait on healthy dependencies', () => {
  for (const name of ['kafka', 'clickhouse', 'grafana', 'prometheus', 'worker', 'api'])
    assert.ok(services[name]!.healthcheck, `${name} healthcheck`);
  for (const [name, s] of Object.entries(services))
    for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
      assert.ok(services[dep], `${name} depends on unknown ${dep}`);
      assert.match(cond.condition, /^service_(healthy|completed_successfully)$/, `${name} -> ${dep}`);
    }
});

test('Grafana provisioning points at files that exist', () => {
  assert.ok(existsSync('dashboards/provisioning/datasources/clickhouse.yaml'));
  assert.ok(existsSync('dashboards/provisioning/dashboards/hitstream.yaml'));
});
