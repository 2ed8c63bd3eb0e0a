/**
 * The provisioned dashboards and alert rules, validated against the schema types of the pinned
 * foundation SDK, whose version names the Grafana release it was generated for. JSON Schemas are
 * made from the SDK's own .d.ts files (ts-json-schema-generator): an unknown key or a wrong type
 * anywhere in a dashboard, a panel's options or an alert rule fails here, not in a user's Grafana.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import type { JSONSchema7 } from 'json-schema';
import { createGenerator } from 'ts-json-schema-generator';
import { parse } from 'yaml';
import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { grafanaRuleGroup } from '../../alerts/grafana.ts';
import { alertRules } from '../../alerts/rules.ts';
import { generatedFiles } from '../../dashboards/generate.ts';

const require = createRequire(import.meta.url);
// The package exports no package.json: find it from one of its modules (dist/dashboard/index.js).
const SDK_DIST = dirname(dirname(require.resolve('@grafana/grafana-foundation-sdk/dashboard')));
const SDK_PACKAGE = join(SDK_DIST, '..', 'package.json');
const SDK_VERSION = (JSON.parse(readFileSync(SDK_PACKAGE, 'utf8')) as { version: string }).version;

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction>();

/**
 * The SDK types a panel's query as a cog "variant" (an interface with one marker method), since
 * its fields belong to the data source plugin, and the SDK has no ClickHouse one. The generated
 * schema for it would accept only {}; it is replaced with the fields every Grafana query has
 * (refId required), the plugin's own fields allowed.
 */
const ANY_DATAQUERY: JSONSchema7 = {
  type: 'object',
  required: ['refId'],
  properties: {
    refId: { type: 'string' },
    hide: { type: 'boolean' },
    queryType: { type: 'string' },
    datasource: { type: 'object', properties: { type: { type: 'string' }, uid: { type: 'string' } } },
  },
};

/** A validator for one exported type of one SDK module (e.g. 'dashboard', 'Dashboard'). */
function sdkType(module: string, type: string): ValidateFunction {
  const key = `${module}.${type}`;
  let v = validators.get(key);
  if (!v) {
    const schema = createGenerator({
      path: join(SDK_DIST, module, 'types.gen.d.ts'),
      type,
      skipTypeCheck: true,
      expose: 'export',
      topRef: false,
    }).createSchema(type);
    if (schema.definitions?.Dataquery) schema.definitions.Dataquery = ANY_DATAQUERY;
    v = ajv.compile(schema);
    validators.set(key, v);
  }
  return v;
}

function assertValid(v: ValidateFunction, value: unknown, what: string) {
  const ok = v(value);
  assert.ok(ok, `${what}: ${ajv.errorsText(v.errors, { separator: '\n  ' })}`);
}

/** Each panel type's SDK module and the names of its option and custom field-config types. */
const PANEL_TYPES: Record<string, { module: string; options: string; custom?: [string, string] }> = {
  timeseries: { module: 'timeseries', options: 'Options', custom: ['common', 'GraphFieldConfig'] },
  barchart: { module: 'barchart', options: 'Options', custom: ['barchart', 'FieldConfig'] },
  'status-history': {
    module: 'statushistory',
    options: 'Options',
    custom: ['statushistory', 'FieldConfig'],
  },
  stat: { module: 'stat', options: 'Options' },
  table: { module: 'table', options: 'Options' },
};

interface PanelJson {
  type: string;
  title?: string;
  options?: unknown;
  fieldConfig?: { defaults?: { custom?: unknown } };
}
const files = generatedFiles();
const dashboards = ['dashboards/generated/pipeline.json', 'dashboards/generated/drift.json'].map(
  (name) => [name, JSON.parse(files[name]!) as { schemaVersion: number; panels: PanelJson[] }] as const,
);

test('the foundation SDK is the build for the Grafana that docker-compose pins', () => {
  const grafana = /grafana\/grafana:(\d+\.\d+)\.\d+/.exec(readFileSync('docker-compose.yml', 'utf8'));
  assert.ok(grafana, 'docker-compose pins grafana/grafana:MAJOR.MINOR.PATCH');
  assert.match(SDK_VERSION, new RegExp(`^${grafana[1]!.replace('.', '\\.')}\\.0-cog`), SDK_VERSION);
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as Record<string, Record<string, string>>;
  const pinned = { ...pkg.dependencies, ...pkg.devDependencies }['@grafana/grafana-foundation-sdk'];
  assert.equal(
    pinned,
    SDK_VERSION,
    'package.json pins the SDK exactly (a range could float to another Grafana)',
  );
  const sdkSchemaVersion = new DashboardBuilder('x').build().schemaVersion;
  for (const [name, d] of dashboards) assert.equal(d.schemaVersion, sdkSchemaVersion, name);
});

test("every dashboard is a valid Dashboard of the SDK's schema", () => {
  for (const [name, d] of dashboards) assertValid(sdkType('dashboard', 'Dashboard'), d, name);
});

test("every panel's options and custom field config are valid for its panel plugin", () => {
  for (const [name, d] of dashboards)
    for (const p of d.panels.filter((x) => x.type !== 'row')) {
      const kind = PANEL_TYPES[p.type];
      assert.ok(kind, `${name}: panel type ${p.type} has no schema mapped in this test`);
      if (p.options !== undefined)
        assertValid(sdkType(kind.module, kind.options), p.options, `${name}: ${p.title}`);
      const custom = p.fieldConfig?.defaults?.custom;
      if (custom !== undefined && kind.custom)
        assertValid(sdkType(...kind.custom), custom, `${name}: ${p.title} (custom)`);
    }
});

test("the alert rule group and each rule's queries are valid for the SDK's alerting schema", () => {
  const group = grafanaRuleGroup(alertRules()).build();
  assertValid(sdkType('alerting', 'RuleGroup'), JSON.parse(JSON.stringify(group)), 'rule group');
  const file = parse(files['dashboards/provisioning/alerting/hitstream-alerts.yaml']!) as {
    groups: { rules: { data: unknown[] }[] }[];
  };
  for (const rule of file.groups.flatMap((g) => g.rules))
    for (const q of rule.data) assertValid(sdkType('alerting', 'Query'), q, 'provisioned query');
});

test('the validation catches an unknown key and a wrong type (it can fail)', () => {
  const d = structuredClone(dashboards[1]![1]) as { panels: (PanelJson & { gridPos?: { h: unknown } })[] };
  const validate = sdkType('dashboard', 'Dashboard');
  d.panels[1]!.gridPos!.h = '9';
  assert.equal(validate(d), false);
  assert.match(ajv.errorsText(validate.errors), /gridPos\/h must be number/);
  const options = sdkType('timeseries', 'Options');
  assert.equal(
    options({
      legend: { showLegend: false, displayMode: 'list', placement: 'bottom', calcs: [] },
      lgend: {},
    }),
    false,
  );
  assert.match(ajv.errorsText(options.errors), /must NOT have additional properties/);
});
