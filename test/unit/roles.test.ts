/** Role transitions (pure): one live, at most one shadow, rollback to the previous live, clear refusals. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyRoleChange, type RoleChange, roleOf, type RoleState } from '../../registry/roles.ts';

const ctx = { known: new Set(['v1', 'v2', 'v3']), by: 'ana@host', now: new Date('2026-12-01T12:00:00Z') };
const run = (changes: RoleChange[], from?: RoleState) =>
  changes.reduce<RoleState | undefined>((s, c) => applyRoleChange(s, c, ctx), from)!;

test('register, shadow, promote the shadow, roll back', () => {
  const s1 = run([{ action: 'register', version: 'v1' }]);
  assert.deepEqual([s1.live, s1.shadow, s1.seq, s1.by], ['v1', null, 1, 'ana@host']);
  const s2 = run([{ action: 'shadow', version: 'v2' }], s1);
  assert.deepEqual([s2.live, s2.shadow], ['v1', 'v2']);
  const s3 = run([{ action: 'promote', version: 'v2' }], s2);
  assert.deepEqual(
    [s3.live, s3.shadow, s3.previous],
    ['v2', null, ['v1']],
    'the promoted shadow is no longer shadow',
  );
  assert.equal(roleOf(s3, 'v1'), 'candidate');
  const s4 = run([{ action: 'rollback' }], s3);
  assert.deepEqual([s4.live, s4.previous, s4.retired, s4.seq], ['v1', [], ['v2'], 4]);
  assert.equal(roleOf(s4, 'v2'), 'retired');
  assert.equal(roleOf(s4, 'v3'), 'candidate');
});

const refusals: [string, RoleChange[], RegExp][] = [
  [
    'an unknown version',
    [
      { action: 'register', version: 'v1' },
      { action: 'promote', version: 'v9' },
    ],
    /v9 is not in the registry.*now: live v1/,
  ],
  [
    'promoting the live version again',
    [
      { action: 'register', version: 'v1' },
      { action: 'promote', version: 'v1' },
    ],
    /v1 is live already/,
  ],
  [
    'a second shadow',
    [
      { action: 'register', version: 'v1' },
      { action: 'shadow', version: 'v2' },
      { action: 'shadow', version: 'v3' },
    ],
    /v2 is the shadow; turn it off first.*now: live v1, shadow v2/,
  ],
  [
    'shadowing the live version',
    [
      { action: 'register', version: 'v1' },
      { action: 'shadow', version: 'v1' },
    ],
    /cannot be its own shadow/,
  ],
  [
    'rollback with no earlier version',
    [{ action: 'register', version: 'v1' }, { action: 'rollback' }],
    /no earlier live version/,
  ],
  [
    'shadow off with none set',
    [{ action: 'register', version: 'v1' }, { action: 'shadow-off' }],
    /no shadow version is set/,
  ],
];
for (const [name, changes, message] of refusals)
  test(`refused: ${name}, in one line naming the version and the roles`, () => {
    assert.throws(
      () => run(changes),
      (err: Error) => message.test(err.message) && !err.message.includes('\n'),
    );
  });
