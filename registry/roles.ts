/**
 * Model roles, as pure state transitions. Exactly one `live` version; at most one `shadow`;
 * `previous` is the stack of earlier live versions that `rollback` returns to; `retired` ones are
 * never served again unless promoted; every other registered version is a `candidate`.
 * The whole state is one value on the compacted topic (`role-topic.ts`), so a change is atomic:
 * no process ever sees two live versions or none.
 */
import { HitstreamError } from '../lib/errors.ts';

export interface RoleState {
  /** Increases with every change; a process applies only states newer than the one it has. */
  seq: number;
  live: string;
  shadow: string | null;
  previous: string[];
  retired: string[];
  at: string;
  by: string;
  action: string;
}

export type Role = 'live' | 'shadow' | 'candidate' | 'retired';

export function roleOf(state: RoleState | undefined, version: string): Role {
  if (state?.live === version) return 'live';
  if (state?.shadow === version) return 'shadow';
  if (state?.retired.includes(version)) return 'retired';
  return 'candidate';
}

export type RoleChange =
  | { action: 'register'; version: string }
  | { action: 'promote'; version: string }
  | { action: 'shadow'; version: string }
  | { action: 'shadow-off' }
  | { action: 'rollback' };

const describe = (s: RoleState | undefined) =>
  s ? `live ${s.live}, shadow ${s.shadow ?? 'none'}` : 'no roles yet';

const refuse = (message: string, s: RoleState | undefined, version?: string) =>
  new HitstreamError('role_refused', `${message} (now: ${describe(s)})`, {
    field: version ? 'VERSION' : undefined,
  });

/**
 * The state after `change`, or a one-line error naming the version and the current roles.
 * `known` are the registered versions (an unknown one is refused).
 */
export function applyRoleChange(
  state: RoleState | undefined,
  change: RoleChange,
  ctx: { known: ReadonlySet<string>; by: string; now: Date },
): RoleState {
  const base = { seq: (state?.seq ?? 0) + 1, at: ctx.now.toISOString(), by: ctx.by, action: change.action };
  if ('version' in change && !ctx.known.has(change.version))
    throw refuse(
      `version ${change.version} is not in the registry: push it first (\`npx hitstream models push\`)`,
      state,
      change.version,
    );
  switch (change.action) {
    case 'register':
      if (state)
        throw refuse(`roles exist already; promote ${change.version} instead`, state, change.version);
      return { ...base, live: change.version, shadow: null, previous: [], retired: [] };
    case 'promote': {
      if (!state) return { ...base, live: change.version, shadow: null, previous: [], retired: [] };
      if (state.live === change.version)
        throw refuse(`${change.version} is live already`, state, change.version);
      return {
        ...base,
        action: `promote ${change.version}`,
        live: change.version,
        shadow: state.shadow === change.version ? null : state.shadow,
        previous: [...state.previous, state.live].slice(-20),
        retired: state.retired.filter((v) => v !== change.version),
      };
    }
    case 'shadow':
      if (!state) throw refuse('no live version yet: promote one first', state, change.version);
      if (state.live === change.version)
        throw refuse(`${change.version} is live; it cannot be its own shadow`, state, change.version);
      if (state.shadow === change.version)
        throw refuse(`${change.version} is the shadow already`, state, change.version);
      if (state.shadow)
        throw refuse(
          `${state.shadow} is the shadow; turn it off first (\`models shadow --off\`)`,
          state,
          change.version,
        );
      return { ...state, ...base, action: `shadow ${change.version}`, shadow: change.version };
    case 'shadow-off':
      if (!state?.shadow) throw refuse('no shadow version is set', state);
      return { ...state, ...base, action: `shadow off (${state.shadow})`, shadow: null };
    case 'rollback': {
      const back = state?.previous.at(-1);
      if (!state || !back) throw refuse('no earlier live version to roll back to', state);
      return {
        ...state,
        ...base,
        action: `rollback to ${back}`,
        live: back,
        shadow: state.shadow === back ? null : state.shadow,
        previous: state.previous.slice(0, -1),
        retired: [...new Set([...state.retired, state.live])],
      };
    }
  }
}
