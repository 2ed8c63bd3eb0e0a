/**
 * kafkajs 2.2.4's request queue re-arms its pending-request check with `throttledUntil − now`,
 * negative whenever nothing throttles (kafkajs#1751; the fixes, #1755 and #1768, are unmerged).
 * Node ≥ 24 turns the delay into 1 ms and prints a TimeoutNegativeWarning in every process that
 * connects, which reads as a fault of ours. Only that warning is dropped; every other one is
 * printed as Node prints it. hitstream itself runs on @platformatic/kafka; kafkajs is left in
 * `bench kafka-clients` and the tests' own client (test/helpers/services.ts), which import this.
 */
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;

process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
  const name = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (
    name === 'TimeoutNegativeWarning' ||
    (warning instanceof Error && warning.name === 'TimeoutNegativeWarning')
  )
    return;
  emitWarning(warning, ...rest);
};
