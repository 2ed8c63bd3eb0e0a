/**
 * ClickHouse's JSON formats write a DateTime as wall-clock text in the server's time zone
 * (`2026-12-01 20:38:00`), with no offset; 18.16 has no setting to get epoch seconds instead.
 * These turn that text back into an instant, given the zone (`SELECT timezone()`).
 */
const WALL_CLOCK = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/;

export const isWallClock = (v: unknown): v is string => typeof v === 'string' && WALL_CLOCK.test(v);

/** Milliseconds `zone` is ahead of UTC at the instant `utcMs`. */
function offsetMs(utcMs: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(utcMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return (
    Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - utcMs
  );
}

/** `2026-12-01 20:38:00` in `zone` → epoch seconds. */
export function wallClockToEpoch(text: string, zone: string): number {
  const m = WALL_CLOCK.exec(text);
  if (!m) throw new Error(`not a ClickHouse DateTime: ${JSON.stringify(text)}`);
  const n = (i: number) => Number(m[i]);
  const asUtc = Date.UTC(n(1), n(2) - 1, n(3), n(4), n(5), n(6));
  if (zone === 'UTC' || zone === 'Etc/UTC') return asUtc / 1000;
  // The offset at the guessed instant, then at the corrected one (right across DST changes).
  const first = asUtc - offsetMs(asUtc, zone);
  return (asUtc - offsetMs(first, zone)) / 1000;
}
