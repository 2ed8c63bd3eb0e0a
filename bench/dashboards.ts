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
import { freePort, say, withIsolatedStack } from './isolated-stack.ts';
import { printResult, quantile } from './report.ts';

const CHROMIUM = '/usr/bin/chromium';

async function waitFor(url: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not answer in ${timeoutMs / 1000} s`);
}

export async function benchDashboards(base: Config, opts: { data: string; rounds: number; json?: boolean }) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed (apt-get install chromium)`);
  return withIsolatedStack(base, 1, async (stack) => {
    const publisher = await createPublisher(stack.cfg, 'bench');
    const summary = await replayCsv(publisher, { path: opts.data, quiet: true });
    await publisher.close();
    say(`replayed ${summary.sent} events`);
    const apiPort = await freePort();
    const api = stack.spawn('api', { apiPort });
    const base = `http://127.0.0.1:${apiPort}`;
    try {
      await waitFor(`${base}/health`);
      // The API alone: every panel's query for the last 15 minutes, as one page refresh asks them.
      const panels = dashboardViews().flatMap((d) =>
        d.panels.filter((p) => p.sql).map((p) => ({ ...p, uid: d.uid })),
      );
      const apiMs: number[] = [];
      for (let i = 0; i < opts.rounds; i++) {
        const to = Math.ceil(Date.now() / 1000);
        const t0 = performance.now();
        await Promise.all(
          panels.map((p) =>
            fetch(`${base}/dashboards/panels/${p.uid}.${p.id}?seconds=900&to=${to}`).then((r) => r.text()),
          ),
        );
        apiMs.push(performance.now() - t0);
      }
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const drawn = () =>
          page.waitForFunction(() => {
            const bodies = [...document.querySelectorAll('.panel-body')];
            return bodies.length > 0 && bodies.every((b) => !b.textContent?.includes('loading…'));
          });
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
        const t0 = performance.now();
        await page.goto(`${base}/dashboards.html`);
        await drawn().catch(async (err: unknown) => {
          const text = (await page.textContent('#dashboards'))?.slice(0, 300);
          throw new Error(`the page did not finish drawing: ${problems.join('; ') || text}`, { cause: err });
        });
        const firstPaintMs = performance.now() - t0;
        const refreshMs: number[] = [];
        await page.selectOption('select[name=refresh]', '0');
        for (let i = 0; i < opts.rounds; i++) {
          // Emptied first: a refresh within the same second would leave the same text.
          await page.evaluate(() => (document.querySelector('#updated')!.textContent = ''));
          const t1 = performance.now();
          await page.selectOption('select[name=range]', i % 2 ? '3600' : '900');
          await page.waitForFunction(() => document.querySelector('#updated')?.textContent !== '');
          refreshMs.push(performance.now() - t1);
        }
        const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
        printResult(
          {
            events: summary.sent,
            panels_queried: panels.length,
            first_paint_ms_1h: Math.round(firstPaintMs),
            refresh_p50_ms: Math.round(quantile(sorted(refreshMs), 0.5)),
            refresh_max_ms: Math.round(Math.max(...refreshMs)),
            api_all_panels_15m_p50_ms: Math.round(quantile(sorted(apiMs), 0.5)),
            api_all_panels_15m_max_ms: Math.round(Math.max(...apiMs)),
            goals: 'first paint ≤ 1000 ms, refresh ≤ 300 ms (15 min)',
          },
          opts.json,
        );
      } finally {
        await browser.close();
      }
    } finally {
      api.kill('SIGTERM');
    }
  });
}
