/**
 * Every setting hitstream reads, from the environment, validated once and typed in one place.
 * README's configuration table is generated from `SETTINGS` (see `npx hitstream config --markdown`).
 */
import { accessSync, constants } from 'node:fs';
import { HitstreamError } from './errors.ts';

type Kind = 'string' | 'int' | 'number' | 'bool' | 'list';
interface Setting {
  env: string;
  kind: Kind;
  default: string;
  meaning: string;
  min?: number;
  max?: number;
  /** For strings: the only values allowed. */
  choices?: readonly string[];
  /** Never printed: `hitstream config` and logs show `***`. */
  secret?: boolean;
  /** A path to a file that must exist and be readable when set. */
  file?: boolean;
}

export const SETTINGS = {
  home: {
    env: 'HITSTREAM_HOME',
    kind: 'string',
    default: '.hitstream',
    meaning: 'Folder for the native stack: jars, data, logs, PID files (relative to the working directory).',
  },
  kafkaBrokers: {
    env: 'KAFKA_BROKERS',
    kind: 'list',
    default: '127.0.0.1:9092',
    meaning: 'Comma-separated Kafka bootstrap servers.',
  },
  kafkaSecurityProtocol: {
    env: 'KAFKA_SECURITY_PROTOCOL',
    kind: 'string',
    default: 'PLAINTEXT',
    choices: ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'],
    meaning:
      "How clients talk to the brokers, as Kafka's `security.protocol`: `SASL_SSL` for Confluent Cloud and MSK with SCRAM, `SSL` for TLS (mutual with KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE).",
  },
  kafkaSaslMechanism: {
    env: 'KAFKA_SASL_MECHANISM',
    kind: 'string',
    default: 'plain',
    choices: ['plain', 'scram-sha-256', 'scram-sha-512'],
    meaning: 'With SASL_SSL or SASL_PLAINTEXT: the SASL mechanism.',
  },
  kafkaSaslUsername: {
    env: 'KAFKA_SASL_USERNAME',
    kind: 'string',
    default: '',
    meaning: 'With SASL_SSL or SASL_PLAINTEXT: the user (Confluent Cloud: the API key).',
  },
  kafkaSaslPassword: {
    env: 'KAFKA_SASL_PASSWORD',
    kind: 'string',
    default: '',
    secret: true,
    meaning:
      'With SASL_SSL or SASL_PLAINTEXT: the password (Confluent Cloud: the API secret). Never printed.',
  },
  kafkaSslCaFile: {
    env: 'KAFKA_SSL_CA_FILE',
    kind: 'string',
    default: '',
    file: true,
    meaning:
      "With SSL or SASL_SSL: PEM file of the CA(s) that signed the brokers' certificates (default: the system's).",
  },
  kafkaSslCertFile: {
    env: 'KAFKA_SSL_CERT_FILE',
    kind: 'string',
    default: '',
    file: true,
    meaning: "Mutual TLS: PEM file of this client's certificate (with KAFKA_SSL_KEY_FILE).",
  },
  kafkaSslKeyFile: {
    env: 'KAFKA_SSL_KEY_FILE',
    kind: 'string',
    default: '',
    file: true,
    meaning: "Mutual TLS: PEM file of this client's private key (with KAFKA_SSL_CERT_FILE).",
  },
  kafkaVersion: {
    env: 'HITSTREAM_KAFKA_VERSION',
    kind: 'string',
    default: '4.4.0',
    meaning: 'Kafka release the native stack fetches from Maven Central (see infra/kafka/pom.xml for why).',
  },
  kafkaPort: {
    env: 'HITSTREAM_KAFKA_PORT',
    kind: 'int',
    default: '9092',
    min: 1,
    max: 65535,
    meaning: 'Native stack: broker listener port (loopback).',
  },
  kafkaControllerPort: {
    env: 'HITSTREAM_KAFKA_CONTROLLER_PORT',
    kind: 'int',
    default: '9093',
    min: 1,
    max: 65535,
    meaning: 'Native stack: KRaft controller port (loopback).',
  },
  kafkaSaslSslPort: {
    env: 'HITSTREAM_KAFKA_SASL_SSL_PORT',
    kind: 'int',
    default: '9094',
    min: 1,
    max: 65535,
    meaning:
      "Native stack: the SASL_SSL listener (PLAIN and SCRAM-SHA-256/512; user and password in `stack up`'s output), certificate signed by the stack's own CA.",
  },
  kafkaMtlsPort: {
    env: 'HITSTREAM_KAFKA_MTLS_PORT',
    kind: 'int',
    default: '9095',
    min: 1,
    max: 65535,
    meaning: "Native stack: the SSL listener that requires a client certificate signed by the stack's CA.",
  },
  stackKafkaBrokers: {
    env: 'HITSTREAM_STACK_KAFKA_BROKERS',
    kind: 'int',
    default: '1',
    min: 1,
    max: 5,
    meaning:
      'Native stack: Kafka brokers `stack up` starts (also `--brokers N`). 1: one node that is broker and controller; more: one KRaft controller and N brokers, broker i on the ports above plus (i − 1)·100.',
  },
  kafkaHeapMb: {
    env: 'HITSTREAM_KAFKA_HEAP_MB',
    kind: 'int',
    default: '1024',
    min: 256,
    max: 16384,
    meaning: 'Native stack: broker JVM heap, MiB.',
  },
  clickhouseUrl: {
    env: 'CLICKHOUSE_URL',
    kind: 'string',
    default: 'http://127.0.0.1:8123',
    meaning: 'ClickHouse HTTP endpoint.',
  },
  clickhouseCaFile: {
    env: 'CLICKHOUSE_CA_FILE',
    kind: 'string',
    default: '',
    file: true,
    meaning:
      "With an https:// CLICKHOUSE_URL: PEM file of the CA that signed the server's certificate (default: the system's; ClickHouse Cloud needs none).",
  },
  clickhouseDatabase: {
    env: 'CLICKHOUSE_DATABASE',
    kind: 'string',
    default: 'hitstream',
    meaning: 'Database holding all hitstream tables.',
  },
  clickhouseUser: { env: 'CLICKHOUSE_USER', kind: 'string', default: 'default', meaning: 'ClickHouse user.' },
  clickhousePassword: {
    env: 'CLICKHOUSE_PASSWORD',
    kind: 'string',
    default: '',
    secret: true,
    meaning: 'ClickHouse password (empty for the native stack).',
  },
  clickhouseHttpPort: {
    env: 'HITSTREAM_CLICKHOUSE_HTTP_PORT',
    kind: 'int',
    default: '8123',
    min: 1,
    max: 65535,
    meaning: 'Native stack: ClickHouse HTTP port (loopback).',
  },
  clickhouseHttpsPort: {
    env: 'HITSTREAM_CLICKHOUSE_HTTPS_PORT',
    kind: 'int',
    default: '8443',
    min: 1,
    max: 65535,
    meaning:
      "Native stack: ClickHouse HTTPS port (loopback), certificate signed by the stack's own CA; user `hitstream`, password in `stack up`'s output.",
  },
  clickhouseCluster: {
    env: 'HITSTREAM_CLICKHOUSE_CLUSTER',
    kind: 'string',
    default: '',
    meaning:
      'A ClickHouse cluster (ZooKeeper or Keeper): `migrate` then runs every statement ON CLUSTER with Replicated engines, and with more than one shard stores each table as `<table>_local` with a Distributed `<table>` over the shards; inserts wait for the shards (insert_distributed_sync). Empty: one server. `stack up` prints `hitstream` when it starts a cluster.',
  },
  stackClickhouseReplicas: {
    env: 'HITSTREAM_STACK_CLICKHOUSE_REPLICAS',
    kind: 'int',
    default: '1',
    min: 1,
    max: 3,
    meaning:
      'Native stack: ClickHouse servers `stack up` starts (also `--clickhouse-replicas N`). More than 1: a ZooKeeper and N replicas of cluster `hitstream`, replica i on the ClickHouse ports above plus (i − 1)·100.',
  },
  stackClickhouseShards: {
    env: 'HITSTREAM_STACK_CLICKHOUSE_SHARDS',
    kind: 'int',
    default: '1',
    min: 1,
    max: 3,
    meaning:
      'Native stack: ClickHouse shards `stack up` starts (also `--clickhouse-shards N`), each of HITSTREAM_STACK_CLICKHOUSE_REPLICAS servers, 4 servers at most. More than 1: migrate makes Distributed tables over them, rows placed by a hash of their key.',
  },
  zookeeperPort: {
    env: 'HITSTREAM_ZOOKEEPER_PORT',
    kind: 'int',
    default: '2181',
    min: 1,
    max: 65535,
    meaning: 'Native stack: ZooKeeper client port (loopback), started only with ClickHouse replicas.',
  },
  zookeeperVersion: {
    env: 'HITSTREAM_ZOOKEEPER_VERSION',
    kind: 'string',
    default: '3.9.5',
    meaning: 'Native stack: Apache ZooKeeper release fetched from Maven Central for ClickHouse replicas.',
  },
  clickhouseTcpPort: {
    env: 'HITSTREAM_CLICKHOUSE_TCP_PORT',
    kind: 'int',
    default: '9000',
    min: 1,
    max: 65535,
    meaning: 'Native stack: ClickHouse native-protocol port (loopback).',
  },
  allowApt: {
    env: 'HITSTREAM_ALLOW_APT',
    kind: 'bool',
    default: 'true',
    meaning: 'Native stack: may `apt-get install clickhouse-server` when it is missing (needs root).',
  },
  topicTracks: {
    env: 'HITSTREAM_TOPIC_TRACKS',
    kind: 'string',
    default: 'hitstream.tracks',
    meaning: 'Topic of incoming track-feature events.',
  },
  topicPredictions: {
    env: 'HITSTREAM_TOPIC_PREDICTIONS',
    kind: 'string',
    default: 'hitstream.predictions',
    meaning: 'Topic the scorers publish predictions to (the live feed reads it).',
  },
  topicDeadLetters: {
    env: 'HITSTREAM_TOPIC_DEAD_LETTERS',
    kind: 'string',
    default: 'hitstream.dead-letters',
    meaning: 'Topic for events that failed validation, with the reason.',
  },
  topicLabels: {
    env: 'HITSTREAM_TOPIC_LABELS',
    kind: 'string',
    default: 'hitstream.labels',
    meaning:
      'Topic of labels that arrive after their events (`npx hitstream label`, POST /labels), stored by `label-sink` in the labels table.',
  },
  topicAlerts: {
    env: 'HITSTREAM_TOPIC_ALERTS',
    kind: 'string',
    default: 'hitstream.alerts',
    meaning:
      "Topic the API's Alertmanager receiver publishes each alert to, firing and resolved (one JSON message per alert, keyed by its fingerprint).",
  },
  topicModels: {
    env: 'HITSTREAM_TOPIC_MODELS',
    kind: 'string',
    default: 'hitstream.models',
    meaning:
      'Compacted topic holding the model roles (which version is live, which is shadow); every worker and API process follows it.',
  },
  tracksPartitions: {
    env: 'HITSTREAM_TRACKS_PARTITIONS',
    kind: 'int',
    default: '4',
    min: 1,
    max: 1024,
    meaning: 'Partitions of the tracks topic when hitstream creates it.',
  },
  topicReplication: {
    env: 'HITSTREAM_TOPIC_REPLICATION_FACTOR',
    kind: 'int',
    default: '0',
    min: 0,
    max: 16,
    meaning:
      'Replicas of each topic hitstream creates; 0: 3 when the cluster has 3 or more brokers, else 1. Producers always wait for every in-sync replica (`acks: -1` in producers/publisher.ts and scorers/publish.ts).',
  },
  topicMinInsyncReplicas: {
    env: 'HITSTREAM_TOPIC_MIN_INSYNC_REPLICAS',
    kind: 'int',
    default: '0',
    min: 0,
    max: 16,
    meaning:
      '`min.insync.replicas` of the topics hitstream creates; 0: 2 with 3 or more replicas, else 1. A write with fewer in-sync replicas fails (and is retried) instead of being acknowledged by one broker.',
  },
  publishRetrySeconds: {
    env: 'HITSTREAM_PUBLISH_RETRY_SECONDS',
    kind: 'int',
    default: '300',
    min: 0,
    max: 86400,
    meaning:
      'How long `replay` and `publish` keep retrying a send Kafka cannot take now (brokers down, not enough in-sync replicas), saying why every 10 s, before they fail. POST /tracks waits at most 10 s and answers 503.',
  },
  consumerGroup: {
    env: 'HITSTREAM_CONSUMER_GROUP',
    kind: 'string',
    default: 'hitstream-scorers',
    meaning: 'Consumer group the scorer workers join.',
  },
  modelsDir: {
    env: 'HITSTREAM_MODELS_DIR',
    kind: 'string',
    default: '',
    meaning: 'Folder with the trained models (default: models/artifacts of this checkout).',
  },
  fetchWaitMs: {
    env: 'HITSTREAM_FETCH_WAIT_MS',
    kind: 'int',
    default: '0',
    min: 0,
    max: 5000,
    meaning:
      'Scorer worker: how long a Kafka fetch may wait for more events (up to 64 KB) before it returns; 0: at once. Fewer, larger batches cost less CPU per event (the four models cost ~3 ms per call); each event waits at most this long more.',
  },
  writeIntervalMs: {
    env: 'HITSTREAM_WRITE_INTERVAL_MS',
    kind: 'int',
    default: '2000',
    min: 0,
    max: 60000,
    meaning:
      'Scorer worker: least time between two ClickHouse writes; rows scored meanwhile go in one insert (offsets are committed after it). Does not delay the live feed.',
  },
  rfPredictor: {
    env: 'HITSTREAM_RF_PREDICTOR',
    kind: 'string',
    default: 'compact',
    choices: ['compact', 'ml-random-forest'],
    meaning:
      "How the Random Forest is scored: `compact` walks its trees as typed arrays (same scores, 4-7x faster), `ml-random-forest` through that package's predictor.",
  },
  workerHost: {
    env: 'HITSTREAM_WORKER_HOST',
    kind: 'string',
    default: '127.0.0.1',
    meaning: 'Scorer worker: listen address of /metrics and /health.',
  },
  workerPort: {
    env: 'HITSTREAM_WORKER_PORT',
    kind: 'int',
    default: '9464',
    min: 0,
    max: 65535,
    meaning: 'Scorer worker: port of /metrics and /health (0 = any free port).',
  },
  apiHost: {
    env: 'HITSTREAM_API_HOST',
    kind: 'string',
    default: '127.0.0.1',
    meaning: 'API listen address.',
  },
  apiPort: {
    env: 'HITSTREAM_API_PORT',
    kind: 'int',
    default: '8080',
    min: 0,
    max: 65535,
    meaning: 'API listen port.',
  },
  shutdownTimeoutMs: {
    env: 'HITSTREAM_SHUTDOWN_TIMEOUT_MS',
    kind: 'int',
    default: '25000',
    min: 1000,
    max: 600000,
    meaning:
      "Workers, API, replay and up: after SIGTERM, the longest wait for work in hand (stored, committed) before exiting anyway; what is left is named, not committed. Under Kubernetes' 30 s grace. A second signal exits at once.",
  },
  autopilotPolicy: {
    env: 'HITSTREAM_AUTOPILOT_POLICY',
    kind: 'string',
    default: 'autopilot.policy.yml',
    meaning:
      'Autopilot: its policy file (YAML): what starts a run, training, judging, auto or approve, guardrails. Validated at start.',
  },
  autopilotHost: {
    env: 'HITSTREAM_AUTOPILOT_HOST',
    kind: 'string',
    default: '127.0.0.1',
    meaning: 'Autopilot: listen address of its Alertmanager webhook, /status, /metrics and /health.',
  },
  autopilotPort: {
    env: 'HITSTREAM_AUTOPILOT_PORT',
    kind: 'int',
    default: '9098',
    min: 0,
    max: 65535,
    meaning: 'Autopilot: port of its Alertmanager webhook (POST /webhook), /status, /metrics and /health.',
  },
  autopilotSecret: {
    env: 'HITSTREAM_AUTOPILOT_SECRET',
    kind: 'string',
    default: '',
    secret: true,
    meaning:
      "Autopilot: the shared secret its webhook requires (`Authorization: Bearer SECRET`, Alertmanager's `http_config.authorization`). Empty: the native stack's, generated once in HITSTREAM_HOME/autopilot/secret.",
  },
  apiKey: {
    env: 'HITSTREAM_API_KEY',
    kind: 'string',
    default: '',
    secret: true,
    meaning: 'When set, write endpoints require header `x-api-key` with this value.',
  },
  apiKeyForReads: {
    env: 'HITSTREAM_API_KEY_FOR_READS',
    kind: 'bool',
    default: 'false',
    meaning:
      'With HITSTREAM_API_KEY set: require the key for reads too (`/tracks/:id/predictions`, `/drift`, and the feed, which also takes `?api_key=` since browsers cannot set WebSocket headers).',
  },
  rateLimitPerSecond: {
    env: 'HITSTREAM_RATE_LIMIT',
    kind: 'int',
    default: '200',
    min: 0,
    max: 1000000,
    meaning:
      'Requests per second one client (IP) may make to `POST /predict` and `POST /tracks` each; more get 429 with `Retry-After`. 0: no limit.',
  },
  explainSample: {
    env: 'HITSTREAM_EXPLAIN_SAMPLE',
    kind: 'number',
    default: '0.01',
    min: 0,
    max: 1,
    meaning:
      'Workers: the share of events (chosen by event id) whose scores are explained and stored in `explanations` (attribution drift, the feed). 0: none. Bounded by HITSTREAM_EXPLAIN_BUDGET.',
  },
  explainBudget: {
    env: 'HITSTREAM_EXPLAIN_BUDGET',
    kind: 'number',
    default: '0.05',
    min: 0,
    max: 100,
    meaning:
      'Workers: the most CPU explaining may take, as a share of what the worker spends on everything else (0.05: 5% more; 100: no limit); sampled events beyond it wait, then the oldest are skipped and counted (`hitstream_explanations_total{outcome="skipped"}`). A worker idle for 5 s explains without counting. An explanation of the shipped set takes ~0.15 s.',
  },
  predictBatchMax: {
    env: 'HITSTREAM_PREDICT_BATCH_MAX',
    kind: 'int',
    default: '256',
    min: 1,
    max: 4096,
    meaning:
      '`POST /predict`: the most requests scored together in one call per model (dynamic batching). 1: each request alone.',
  },
  predictBatchWindowMs: {
    env: 'HITSTREAM_PREDICT_BATCH_WINDOW_MS',
    kind: 'int',
    default: '0',
    min: 0,
    max: 20,
    meaning:
      '`POST /predict`: how long a request may wait for others to batch with. 0: none; requests that arrive while a batch is scored, or in the same event-loop turn, still go together, and a lone request is answered at once.',
  },
  feedMaxClients: {
    env: 'HITSTREAM_FEED_MAX_CLIENTS',
    kind: 'int',
    default: '1000',
    min: 1,
    max: 100000,
    meaning:
      'Live-feed WebSocket connections one API process serves; more are closed at once with code 1013 and the reason.',
  },
  corsOrigin: {
    env: 'HITSTREAM_CORS_ORIGIN',
    kind: 'string',
    default: '',
    meaning: 'Comma-separated origins allowed to call the API from a browser (empty: same origin only).',
  },
  tfBackend: {
    env: 'HITSTREAM_TF_BACKEND',
    kind: 'string',
    default: 'wasm',
    choices: ['wasm', 'tensorflow', 'cpu'],
    meaning:
      'TensorFlow.js backend of the MLP and TabNet: `wasm` (tested), `tensorflow` (@tensorflow/tfjs-node, which you install yourself; untested here), `cpu` (plain JS, about 5x slower). Never chosen silently.',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    kind: 'string',
    default: 'info',
    meaning: 'pino log level: trace, debug, info, warn, error, fatal, silent.',
  },
  prometheusPort: {
    env: 'HITSTREAM_PROMETHEUS_PORT',
    kind: 'int',
    default: '9090',
    min: 1,
    max: 65535,
    meaning:
      "Native stack: Prometheus' port (it scrapes the workers and the API and evaluates hitstream's alert rules).",
  },
  alertmanagerPort: {
    env: 'HITSTREAM_ALERTMANAGER_PORT',
    kind: 'int',
    default: '9097',
    min: 1,
    max: 65535,
    meaning:
      "Native stack: Alertmanager's port (it routes alerts to the API's receiver). Not Alertmanager's usual 9093: that is the Kafka controller's here; clustering is off.",
  },
  prometheusUrl: {
    env: 'PROMETHEUS_URL',
    kind: 'string',
    default: '',
    meaning:
      "Prometheus for `/health`'s monitoring status and the Alerts page's links (default: the native stack's, http://127.0.0.1:HITSTREAM_PROMETHEUS_PORT).",
  },
  alertmanagerUrl: {
    env: 'ALERTMANAGER_URL',
    kind: 'string',
    default: '',
    meaning:
      "Alertmanager for `/health`'s monitoring status and silences (default: the native stack's, http://127.0.0.1:HITSTREAM_ALERTMANAGER_PORT).",
  },
  scrapeIntervalSeconds: {
    env: 'HITSTREAM_SCRAPE_INTERVAL_SECONDS',
    kind: 'int',
    default: '15',
    min: 1,
    max: 300,
    meaning: 'Native stack: how often Prometheus scrapes the workers and the API, and evaluates the rules.',
  },
  qualityIntervalSeconds: {
    env: 'HITSTREAM_QUALITY_INTERVAL_SECONDS',
    kind: 'int',
    default: '60',
    min: 1,
    max: 3600,
    meaning:
      'API: how often the model-quality metrics (PSI, error on labelled events, disagreement) are computed from ClickHouse; a scrape reads the last result.',
  },
  qualityWindowSeconds: {
    env: 'HITSTREAM_QUALITY_WINDOW_SECONDS',
    kind: 'int',
    default: '900',
    min: 10,
    max: 604800,
    meaning: 'API: the window the model-quality metrics cover (15 min by default).',
  },
  logFormat: {
    env: 'HITSTREAM_LOG_FORMAT',
    kind: 'string',
    default: 'auto',
    choices: ['auto', 'pretty', 'json'],
    meaning:
      "`up`: `pretty` prefixes each child's lines with its service name, pretty-prints them and adds a status line every 5 s; `json` passes the JSON lines through; `auto` is pretty on a terminal.",
  },
} as const satisfies Record<string, Setting>;

type ValueOf<K extends Kind, C = undefined> = C extends readonly string[]
  ? C[number]
  : K extends 'int' | 'number'
    ? number
    : K extends 'bool'
      ? boolean
      : K extends 'list'
        ? string[]
        : string;
type S = typeof SETTINGS;
export type Config = {
  -readonly [K in keyof S]: ValueOf<
    S[K]['kind'],
    S[K] extends { choices: readonly string[] } ? S[K]['choices'] : undefined
  >;
};

function parseOne(s: Setting, raw: string): number | boolean | string | string[] {
  const bad = (why: string) =>
    new HitstreamError('CONFIG_INVALID', `${s.env}=${JSON.stringify(raw)}: ${why}`, { field: s.env });
  switch (s.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw bad('must be a whole number');
      const n = Number(raw);
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max))
        throw bad(`must be between ${s.min} and ${s.max}`);
      return n;
    }
    case 'number': {
      const n = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(n)) throw bad('must be a number');
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max))
        throw bad(`must be between ${s.min} and ${s.max}`);
      return n;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw bad('must be true or false');
    case 'list': {
      const items = raw
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (items.length === 0) throw bad('must list at least one value');
      return items;
    }
    default:
      if (s.choices && !s.choices.includes(raw)) throw bad(`must be one of ${s.choices.join(', ')}`);
      return raw;
  }
}

/** Reads and validates every setting; throws one error naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [string, Setting][]) {
    const raw = env[s.env];
    out[key] = parseOne(s, raw === undefined || raw === '' ? s.default : raw);
    if (s.file && out[key]) checkReadable(s, out[key] as string);
  }
  const cfg = out as Config;
  checkSecurity(cfg);
  return cfg;
}

function checkReadable(s: Setting, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read';
    throw new HitstreamError('CONFIG_INVALID', `${s.env}=${JSON.stringify(path)}: ${why}`, { field: s.env });
  }
}

/** The settings that only make sense together: named, so a half-done setup fails at start. */
function checkSecurity(cfg: Config): void {
  const bad = (field: string, why: string) =>
    new HitstreamError('CONFIG_INVALID', `${field}: ${why}`, { field });
  const sasl = cfg.kafkaSecurityProtocol.startsWith('SASL_');
  const tls = cfg.kafkaSecurityProtocol.endsWith('SSL');
  if (sasl && !cfg.kafkaSaslUsername)
    throw bad('KAFKA_SASL_USERNAME', `is required with KAFKA_SECURITY_PROTOCOL=${cfg.kafkaSecurityProtocol}`);
  if (sasl && !cfg.kafkaSaslPassword)
    throw bad('KAFKA_SASL_PASSWORD', `is required with KAFKA_SECURITY_PROTOCOL=${cfg.kafkaSecurityProtocol}`);
  if (!sasl && (cfg.kafkaSaslUsername || cfg.kafkaSaslPassword))
    throw bad(
      'KAFKA_SECURITY_PROTOCOL',
      `is ${cfg.kafkaSecurityProtocol}, which sends no credentials, but KAFKA_SASL_USERNAME/PASSWORD are set: use SASL_SSL (or SASL_PLAINTEXT)`,
    );
  for (const [field, value] of [
    ['KAFKA_SSL_CA_FILE', cfg.kafkaSslCaFile],
    ['KAFKA_SSL_CERT_FILE', cfg.kafkaSslCertFile],
    ['KAFKA_SSL_KEY_FILE', cfg.kafkaSslKeyFile],
  ] as const)
    if (value && !tls)
      throw bad(
        field,
        `is set, but KAFKA_SECURITY_PROTOCOL=${cfg.kafkaSecurityProtocol} does not use TLS: use SSL or SASL_SSL`,
      );
  if (Boolean(cfg.kafkaSslCertFile) !== Boolean(cfg.kafkaSslKeyFile))
    throw bad(
      cfg.kafkaSslCertFile ? 'KAFKA_SSL_KEY_FILE' : 'KAFKA_SSL_CERT_FILE',
      'mutual TLS needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE',
    );
  if (cfg.clickhouseCaFile && !cfg.clickhouseUrl.startsWith('https://'))
    throw bad('CLICKHOUSE_CA_FILE', `is set, but CLICKHOUSE_URL (${cfg.clickhouseUrl}) is not https://`);
}

/** `cfg` with every secret replaced by `***` (set) or '' (unset): what may be printed or logged. */
export function redactedConfig(cfg: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg };
  for (const [key, s] of Object.entries(SETTINGS) as [keyof Config, Setting][])
    if (s.secret) out[key] = cfg[key] ? '***' : '';
  return out;
}

/** The README table, so documentation cannot drift from the code. */
export function settingsMarkdown(): string {
  const rows = Object.values(SETTINGS as Record<string, Setting>).map(
    (s) => `| \`${s.env}\` | \`${s.default}\` | ${s.meaning} |`,
  );
  return ['| name | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The environment that makes a child process load exactly `cfg` (the inverse of loadConfig). */
export function configToEnv(cfg: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [keyof Config, Setting][]) {
    const v = cfg[key];
    env[s.env] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return env;
}

/** Where Prometheus answers: PROMETHEUS_URL, else the native stack's. */
export const prometheusUrlOf = (cfg: Config) => cfg.prometheusUrl || `http://127.0.0.1:${cfg.prometheusPort}`;
/** Where Alertmanager answers: ALERTMANAGER_URL, else the native stack's. */
export const alertmanagerUrlOf = (cfg: Config) =>
  cfg.alertmanagerUrl || `http://127.0.0.1:${cfg.alertmanagerPort}`;
