/** The panel route: panels with the same SQL, asked at once, run it once; later asks run it again. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { dashboardRoutes } from '../../api/routes/dashboards.ts';

test('PSI per feature and the PSI heat map (one SQL) asked together run one query; asked again, another', async () => {
  const asked: string[] = [];
  const storage = {
    async rows<T>(what: string, query: string): Promise<T[]> {
      if (query.includes('timezone()')) return [{ tz: 'UTC' }] as T[];
      asked.push(what);
      await new Promise((r) => setTimeout(r, 50));
      return [{ time: '2026-12-02 18:00:00', name: 'energy', psi: 0.3 }] as T[];
    },
  };
  const app = Fastify();
  await app.register(
    dashboardRoutes({ storage, access: { read: () => true, write: () => true, keyed: false } }),
  );
  const get = (panel: string) =>
    app
      .inject({ url: `/dashboards/panels/${panel}?seconds=900&to=1796234400` })
      .then((r) => r.json<{ columns: string[]; rows: unknown[][] }>());
  const [lines, heat, other] = await Promise.all([
    get('hitstream-drift.1'),
    get('hitstream-drift.2'),
    get('hitstream-pipeline.2'),
  ]);
  assert.deepEqual(lines, heat, 'both panels get the one answer');
  assert.deepEqual(lines.rows, [[Date.UTC(2026, 11, 2, 18) / 1000, 'energy', 0.3]]);
  assert.ok(other.rows);
  assert.equal(asked.length, 2, `two queries for three panels: ${asked.join('; ')}`);
  assert.match(
    asked.find((w) => w.includes('PSI per feature'))!,
    /panels “PSI per feature.*” and “PSI heat map/,
  );
  await get('hitstream-drift.2');
  assert.equal(asked.length, 3, 'nothing is kept once answered');
  await app.close();
});
