/**
 * The migrations for a replicated ClickHouse (HITSTREAM_CLICKHOUSE_CLUSTER set): each statement as
 * written for one node, turned into its cluster form. `CREATE … ON CLUSTER` runs it on every
 * replica, and each MergeTree engine becomes its Replicated twin, whose ZooKeeper path names the
 * database and table (`{shard}` and `{replica}` are the servers' own macros). The .sql files stay
 * single-node SQL, so they still run as they are on one server, on chdb and on 18.16.
 *
 * One shard only: with one shard every replica holds every row, so the reads (FINAL) stay exact
 * on whichever replica answers. More shards would need Distributed tables over these, and reads
 * that merge FINAL per shard; `migrate` refuses such a cluster rather than half-support it.
 */
import { sqlIdentifier, sqlString } from '../lib/sql.ts';

const CREATE =
  /^(CREATE\s+(?:TABLE|MATERIALIZED\s+VIEW|VIEW|DATABASE)\s+IF\s+NOT\s+EXISTS\s+)([A-Za-z_][\w]*)(\s)/;
const ENGINE = /ENGINE\s*=\s*(Replacing|Aggregating|Summing|Collapsing|)MergeTree\b(?:\s*\(([^)]*)\))?/;

/** `statement` (one migration statement for a single node) for `cluster`, in `database`. */
export function replicatedStatement(statement: string, cluster: string, database: string): string {
  const create = CREATE.exec(statement);
  if (!create)
    throw new Error(
      `a migration statement this code cannot run ON CLUSTER (only CREATE … IF NOT EXISTS is): ${statement.slice(0, 60)}`,
    );
  const name = create[2]!;
  const db = sqlIdentifier(database);
  const isDatabase = /^CREATE\s+DATABASE/.test(statement);
  let out = statement.replace(CREATE, (_, head: string, n: string, space: string) => {
    return `${head}${isDatabase ? n : `${db}.${n}`} ON CLUSTER ${sqlIdentifier(cluster)}${space}`;
  });
  // Every other replica runs the statement in its default database: a view's target and source
  // must name theirs (18.16 looked for `default.predictions` otherwise).
  if (/^CREATE\s+(MATERIALIZED\s+)?VIEW/.test(statement))
    out = out.replace(
      /\b(TO|FROM|JOIN)\s+([A-Za-z_]\w*)\b(?!\.)/g,
      (_, kw: string, t: string) => `${kw} ${db}.${t}`,
    );
  return out.replace(ENGINE, (_, kind: string, args: string | undefined) => {
    const path = sqlString(`/clickhouse/tables/{shard}/${sqlIdentifier(database)}/${name}`);
    const rest = args?.trim() ? `, ${args.trim()}` : '';
    return `ENGINE = Replicated${kind}MergeTree(${path}, '{replica}'${rest})`;
  });
}
