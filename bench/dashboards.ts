/**
 * `bench dashboards`: how fast /dashboards.html draws after a replay of a file, in a real
 * Chromium (playwright-core, Debian's chromium): the first paint (page load until every panel has
 * drawn or said why not) for the last hour, and a refresh for the last 15 minutes, repeated.
 * Also the API's own time for all panel queries, without the browser.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Config } from '../lib/config.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { dashboardViews } from '../dashboards/panels.ts';
import { freePort, say, waitFor, withIsolatedStack } from './isolated-stack.ts';
import { printResult, quantile } from './report.ts';

const CHROMIUM = '/usr/bin/chromium';

export async function benchDashboards(base: Config, opts: { data: string; rounds: number; json?: boolean }) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed (apt-get install chromium)`);
  return withIsolatedStack(base, 1, async (stack) => {
    const publisher = await createPublisher(stack.cfg, 'bench');
    const summary = await replayCsv(publisher, { path: opts.data, quiet: true });
    await publisher.close();
    say(`replayed ${summary.sent} events`);
    const apiPort = await freePort();
    // Stopped, once, with the stack's other children when the bench ends.
    stack.spawn('api', { apiPort });
    const base = `http://127.0.0.1:${apiPort}`;
    await waitFor(`${base}/health`);
    // The API alone: every panel's query for the last 15 minutes, as one page refresh asks them.
    const panels = dashboardViews().flatMap((d) =>
      d.panels.filter((p) => p.sql).map((p) => ({ ...p, uid: d.uid })),
    );
    const apiMs: number[] = [];
    const panelMs = new Map<string, number[]>();
    for (let i = 0; i < opts.rounds; i++) {
      const to = Math.ceil(Date.now() / 1000);
      const t0 = performance.now();
      await Promise.all(
        panels.map(async (p) => {
          const t = performance.now();
          await fetch(`${base}/dashboards/panels/${p.uid}.${p.id}?seconds=900&to=${to}`).then((r) =>
            r.text(),
          );
          const key = `${p.uid}.${p.id} ${p.title}`;
          panelMs.set(key, [...(panelMs.get(key) ?? []), performance.now() - t]);
        }),
      );
      apiMs.push(performance.now() - t0);
    }
    // The slowest panels (p50 of their own time, asked all at once as the page does).
    const slowest = [...panelMs]
      .map(
        ([k, ms]) =>
          [
            k,
            Math.round(
              quantile(
                [...ms].sort((a, b) => a - b),
                0.5,
              ),
            ),
          ] as const,
      )
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, ms]) => `${k}: ${ms} ms`)
      .join('; ');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    try {
      const problems: string[] = [];
      // A first visit each time: a fresh browser context has no cache (page, uPlot, answers).
      const firstVisit = async () => {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        page.on('pageerror', (e) => problems.push(e.message));
        page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
        const t0 = performance.now();
        await page.goto(`${base}/dashboards.html`);
        await page
          .waitForFunction(() => {
            const bodies = [...document.querySelectorAll('.panel-body')];
            return bodies.length > 0 && bodies.every((b) => !b.textContent?.includes('loading…'));
          })
          .catch(async (err: unknown) => {
            const text = (await page.textContent('#dashboards'))?.slice(0, 300);
            throw new Error(`the page did not finish drawing: ${problems.join('; ') || text}`, {
              cause: err,
            });
          });
        return { page, ms: performance.now() - t0, close: () => context.close() };
      };
      const firstPaints: number[] = [];
      for (let i = 1; i < opts.rounds; i++) {
        const visit = await firstVisit();
        firstPaints.push(visit.ms);
        await visit.close();
      }
      const { page, ms } = await firstVisit();
      firstPaints.push(ms);
      const refreshMs: number[] = [];
      await page.selectOption('select[name=refresh]', '0');
      for (let i = 0; i < 2 * opts.rounds; i++) {
        // Emptied first: a refresh within the same second would leave the same text.
        await page.evaluate(() => (document.querySelector('#updated')!.textContent = ''));
        const t1 = performance.now();
        // Alternating 15 min and 1 h, so each is a change of range; only the 15-minute ones count.
        await page.selectOption('select[name=range]', i % 2 ? '3600' : '900');
        await page.waitForFunction(() => document.querySelector('#updated')?.textContent !== '');
        if (i % 2 === 0) refreshMs.push(performance.now() - t1);
      }
      const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
      printResult(
        {
          events: summary.sent,
          panels_queried: panels.length,
          first_paint_1h_p50_ms: Math.round(quantile(sorted(firstPaints), 0.5)),
          first_paint_1h_max_ms: Math.round(Math.max(...firstPaints)),
          refresh_15m_p50_ms: Math.round(quantile(sorted(refreshMs), 0.5)),
          refresh_15m_max_ms: Math.round(Math.max(...refreshMs)),
          api_all_panels_15m_p50_ms: Math.round(quantile(sorted(apiMs), 0.5)),
          api_all_panels_15m_max_ms: Math.round(Math.max(...apiMs)),
          api_slowest_panels_p50: slowest,
          goals: 'first paint ≤ 1000 ms, refresh ≤ 300 ms (15 min)',
        },
        opts.json,
      );
    } finally {
      await browser.close();
    }
  });
}
