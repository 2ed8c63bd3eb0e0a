import { relative } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../lib/config.ts';
import { stackPaths } from '../infra/stack/paths.ts';
import { stackDown, stackStatus, stackUp } from '../infra/stack/stack.ts';

const say = (msg: string) => process.stderr.write(`stack: ${msg}\n`);

export function registerStackCommand(program: Command): void {
  const stack = program
    .command('stack')
    .description('Start, stop or inspect the native Kafka + ClickHouse stack');
  stack
    .command('up')
    .description('Start Kafka (KRaft) and ClickHouse on loopback; a no-op for what already runs')
    .action(async () => {
      const cfg = loadConfig();
      const r = await stackUp(cfg, say);
      for (const [name, s] of Object.entries(r))
        say(
          `${name} ${s.action === 'started' ? `started in ${s.seconds.toFixed(1)} s` : 'already running (nothing to do)'}`,
        );
      say(
        `KAFKA_BROKERS=127.0.0.1:${cfg.kafkaPort} CLICKHOUSE_URL=http://127.0.0.1:${cfg.clickhouseHttpPort}`,
      );
      const tls = relative(process.cwd(), stackPaths(cfg).tls) || '.';
      say(
        `secure, with the stack's CA ${tls}/ca.pem, user hitstream and the password in ${tls}/password: ` +
          `Kafka SASL_SSL (PLAIN, SCRAM-SHA-256/512) at 127.0.0.1:${cfg.kafkaSaslSslPort}, ` +
          `mutual TLS at 127.0.0.1:${cfg.kafkaMtlsPort} (${tls}/client.pem, client.key), ` +
          `ClickHouse https://127.0.0.1:${cfg.clickhouseHttpsPort}`,
      );
    });
  stack
    .command('down')
    .description('Stop the processes `stack up` started (by PID file, never by name)')
    .action(async () => {
      const r = await stackDown(loadConfig());
      for (const [name, stopped] of Object.entries(r))
        say(`${name} ${stopped ? 'stopped' : 'was not running'}`);
    });
  stack
    .command('status')
    .description('Show each service: PID and whether it answers')
    .action(async () => {
      const rows = await stackStatus(loadConfig());
      for (const s of rows)
        process.stdout.write(
          `${s.name.padEnd(11)} ${s.pid ? `pid ${s.pid}` : 'not started by hitstream'}  ${s.answering ? 'answering' : 'not answering'} at ${s.endpoint}\n`,
        );
      if (!rows.every((s) => s.answering)) process.exitCode = 3;
    });
}
