/**
 * The migrations for a ClickHouse cluster (HITSTREAM_CLICKHOUSE_CLUSTER set): each statement as
 * written for one node, turned into its cluster form. `CREATE … ON CLUSTER` runs it on every
 * server, and each MergeTree engine becomes its Replicated twin, whose ZooKeeper path names the
 * database and table (`{shard}` and `{replica}` are the servers' own macros). The .sql files stay
 * single-node SQL, so they still run as they are on one server, on chdb and on 18.16.
 *
 * With more than one shard, each table `t` is stored as `t_local` on every server, and `t` becomes
 * a Distributed table over them, so the code reads and writes `t` as on one node. Rows are placed
 * by a hash of the table's ORDER BY key: every copy of a row (a re-delivered event) lands on the
 * same shard, where ReplacingMergeTree collapses it, so FINAL stays exact when each shard applies
 * it to its own rows. Materialized views run where the rows land: from `t_local` into the target's
 * `_local` table, whose Distributed twin merges the aggregate states of all shards when read.
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

const ORDER_BY = /\bORDER\s+BY\s+(?:\(([^)]*)\)|([A-Za-z_]\w*))/;

/** The statements that create `statement`'s object on a cluster of `shards` shards. */
export function clusterStatements(
  statement: string,
  cluster: string,
  database: string,
  shards: number,
): string[] {
  if (shards <= 1) return [replicatedStatement(statement, cluster, database)];
  const create = CREATE.exec(statement);
  if (create && /^CREATE\s+TABLE/.test(statement))
    return shardedTable(statement, create[2]!, cluster, database);
  if (/^CREATE\s+MATERIALIZED\s+VIEW/.test(statement)) {
    // Its target and its source are the shard's own tables: the view sees the rows stored there.
    const local = statement.replace(
      /\b(TO|FROM|JOIN)\s+([A-Za-z_]\w*)\b(?!\.)/g,
      (_, kw: string, t: string) => `${kw} ${t}_local`,
    );
    return [replicatedStatement(local, cluster, database)];
  }
  return [replicatedStatement(statement, cluster, database)];
}

/** `name`'s Replicated table on every server as `name_local`, and `name` as Distributed over them. */
function shardedTable(statement: string, name: string, cluster: string, database: string): string[] {
  const order = ORDER_BY.exec(statement);
  if (!order)
    throw new Error(`a table without ORDER BY cannot be sharded by its key: ${statement.slice(0, 60)}`);
  const key = (order[1] ?? order[2]!).trim();
  const local = `${name}_local`;
  const db = sqlIdentifier(database);
  const localStatement = statement.replace(
    CREATE,
    (_, head: string, _n: string, space: string) => `${head}${local}${space}`,
  );
  const distributed = `CREATE TABLE IF NOT EXISTS ${db}.${sqlIdentifier(name)} ON CLUSTER ${sqlIdentifier(cluster)} AS ${db}.${sqlIdentifier(local)} ENGINE = Distributed(${sqlString(cluster)}, ${sqlString(database)}, ${sqlString(local)}, cityHash64(${key}))`;
  return [replicatedStatement(localStatement, cluster, database), distributed];
}
