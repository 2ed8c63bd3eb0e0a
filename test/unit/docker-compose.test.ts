/** No Docker engine runs on the project's machines, so the compose file's structure is checked here. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
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
  for (const name of ['kafka', 'clickhouse', 'grafana', 'prometheus', 'alertmanager', 'worker', 'api'])
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

/** Built by infra/setup.sh --test (Compose v2 from the Go module proxy; it runs without an engine). */
const COMPOSE_BIN =
  process.env.HITSTREAM_COMPOSE_BIN ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hitstream/compose-v2.32.4/docker-compose');

test('docker compose config (Compose v2) accepts the file, and rejects a broken copy of it', () => {
  assert.ok(existsSync(COMPOSE_BIN), `${COMPOSE_BIN} is missing: run bash infra/setup.sh --test`);
  const resolved = JSON.parse(
    execFileSync(COMPOSE_BIN, ['-f', 'docker-compose.yml', 'config', '--format', 'json'], {
      encoding: 'utf8',
    }),
  ) as { services: Record<string, { environment?: Record<string, string> }> };
  assert.equal(resolved.services.worker?.environment?.KAFKA_BROKERS, 'kafka:9092');

  const broken = join(mkdtempSync(join(tmpdir(), 'compose-')), 'docker-compose.yml');
  writeFileSync(broken, readFileSync('docker-compose.yml', 'utf8').replace('healthcheck:', 'helthcheck:'));
  const r = spawnSync(COMPOSE_BIN, ['-f', broken, '--project-directory', '.', 'config', '-q'], {
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /helthcheck/);
});

test("Grafana's ClickHouse plugin is pinned with the current setting, at a version its documentation pairs with the pinned Grafana", () => {
  const grafana = services.grafana as Service & { environment: Record<string, string> };
  assert.equal(grafana.environment.GF_INSTALL_PLUGINS, undefined, 'GF_INSTALL_PLUGINS is deprecated');
  const plugin = /^grafana-clickhouse-datasource@(\d+)\.(\d+)\.\d+$/.exec(
    grafana.environment.GF_PLUGINS_PREINSTALL ?? '',
  );
  assert.ok(plugin, `GF_PLUGINS_PREINSTALL pins id@version: ${grafana.environment.GF_PLUGINS_PREINSTALL}`);
  const [major, minor] = /:(\d+)\.(\d+)\./.exec(grafana.image!)!.slice(1).map(Number) as [number, number];
  const pluginVersion = Number(plugin[1]) * 1000 + Number(plugin[2]);
  // https://grafana.com/docs/plugins/grafana-clickhouse-datasource/latest/ (Requirements):
  // Grafana 11.6.0 and later: plugin v4.15+; Grafana 9.x to 11.5.x: v4.0 to v4.14.
  if (major * 1000 + minor >= 11006)
    assert.ok(pluginVersion >= 4015, grafana.environment.GF_PLUGINS_PREINSTALL);
  else assert.ok(pluginVersion >= 4000 && pluginVersion <= 4014, grafana.environment.GF_PLUGINS_PREINSTALL);
});
