/**
 * Expands the Grafana ClickHouse plugin's macros that hitstream's panels use, the way the plugin
 * does, so tests can run every panel query against a real server.
 */
export function expandMacros(sql: string, from: Date, to: Date): string {
  const f = Math.floor(from.getTime() / 1000);
  const t = Math.ceil(to.getTime() / 1000);
  return sql
    .replace(
      /\$__timeFilter\(\s*([\w.]+)\s*\)/g,
      (_, col: string) => `${col} >= toDateTime(${f}) AND ${col} <= toDateTime(${t})`,
    )
    .replace(/\$__fromTime/g, `toDateTime(${f})`)
    .replace(/\$__toTime/g, `toDateTime(${t})`);
}

/** Every ClickHouse query in a dashboard's JSON, with its panel title. */
export function panelQueries(dashboard: {
  panels?: unknown[];
}): { title: string; rawSql: string; format: number }[] {
  const out: { title: string; rawSql: string; format: number }[] = [];
  for (const p of (dashboard.panels ?? []) as {
    title?: string;
    targets?: { rawSql?: string; format?: number }[];
  }[])
    for (const t of p.targets ?? [])
      if (t.rawSql) out.push({ title: p.title ?? '', rawSql: t.rawSql, format: t.format ?? 0 });
  return out;
}
