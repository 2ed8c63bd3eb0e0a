/**
 * The dashboards as the web page draws them: the same builders as the Grafana JSON, read back as
 * a list of panels with their section, SQL (with the ClickHouse plugin's macros) and thresholds.
 * One definition, two renderers: `dashboards/*.ts` → Grafana, and → /dashboards.html.
 */
import { driftDashboard } from './drift.ts';
import { pipelineDashboard } from './pipeline.ts';

export interface PanelView {
  /** Position in its dashboard (rows included): stable for a given definition. */
  id: number;
  type: string;
  title: string;
  /** The row it sits under. */
  section: string;
  /** ClickHouse SQL with $__timeFilter(...) macros; absent for a Prometheus panel. */
  sql?: string;
  /** 0: time series, 1: table (the plugin's formats). */
  format?: number;
  /** Threshold steps above the base colour, ascending (PSI: 0.1 warn, 0.2 alert). */
  thresholds: { value: number; color: string }[];
  /** What a panel without SQL shows instead. */
  note?: string;
}

export interface DashboardView {
  uid: string;
  title: string;
  description: string;
  panels: PanelView[];
}

interface BuiltPanel {
  type: string;
  title?: string;
  targets?: { rawSql?: string; format?: number; expr?: string }[];
  fieldConfig?: { defaults?: { thresholds?: { steps?: { value: number | null; color: string }[] } } };
}

function view(built: {
  uid?: string;
  title?: string;
  description?: string;
  panels?: unknown[];
}): DashboardView {
  let section = '';
  const panels: PanelView[] = [];
  for (const [id, p] of ((built.panels ?? []) as BuiltPanel[]).entries()) {
    if (p.type === 'row') {
      section = p.title ?? '';
      continue;
    }
    const target = p.targets?.[0];
    const steps = p.fieldConfig?.defaults?.thresholds?.steps ?? [];
    panels.push({
      id,
      type: p.type,
      title: p.title ?? '',
      section,
      ...(target?.rawSql ? { sql: target.rawSql, format: target.format ?? 0 } : {}),
      thresholds: steps.filter((s): s is { value: number; color: string } => s.value !== null),
      ...(target?.rawSql
        ? {}
        : {
            note: `a Prometheus query (${target?.expr ?? 'none'}), drawn in Grafana; each worker's /metrics has it`,
          }),
    });
  }
  return { uid: built.uid ?? '', title: built.title ?? '', description: built.description ?? '', panels };
}

let cached: DashboardView[] | undefined;
export function dashboardViews(): DashboardView[] {
  cached ??= [view(driftDashboard().build()), view(pipelineDashboard().build())];
  return cached;
}
