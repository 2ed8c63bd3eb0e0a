// Which room (top-level folder) may import which: the one place the layout's floors are written
// down. eslint.config.js turns it into no-restricted-imports rules; test/unit/boundaries.test.ts
// checks that a crossing fails the lint, and that each room's README says the same.
// A room may import itself and the rooms listed; any other room of ours is refused.
export const ROOMS = {
  lib: [],
  schemas: [],
  models: ['lib', 'schemas'],
  training: ['lib', 'schemas', 'models', 'warehouse'],
  warehouse: ['lib', 'schemas', 'models'],
  registry: ['lib', 'schemas', 'models', 'warehouse'],
  producers: ['lib', 'schemas'],
  labels: ['lib', 'schemas', 'warehouse', 'infra'],
  scorers: ['lib', 'schemas', 'models', 'registry', 'warehouse', 'infra'],
  alerts: ['lib', 'schemas', 'models', 'registry', 'warehouse'],
  dashboards: ['lib', 'schemas', 'models', 'warehouse', 'alerts'],
  api: ['lib', 'schemas', 'models', 'registry', 'warehouse', 'producers', 'alerts', 'dashboards'],
  infra: ['lib'],
  autopilot: ['lib', 'schemas', 'models', 'registry', 'warehouse', 'infra'],
  bench: [
    'lib',
    'schemas',
    'models',
    'registry',
    'warehouse',
    'producers',
    'scorers',
    'api',
    'dashboards',
    'infra',
  ],
  cli: [
    'lib',
    'schemas',
    'models',
    'training',
    'warehouse',
    'registry',
    'producers',
    'scorers',
    'labels',
    'autopilot',
    'alerts',
    'dashboards',
    'api',
    'infra',
    'bench',
  ],
};

/** The ESLint config blocks that enforce ROOMS. */
export function boundaryRules() {
  const rooms = Object.keys(ROOMS);
  return rooms.map((room) => {
    const refused = rooms.filter((r) => r !== room && !ROOMS[room].includes(r));
    return {
      files: [`${room}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: refused.map((r) => ({
              group: [`**/${r}/*`],
              message: `${room}/ must not import ${r}/ (eslint.boundaries.js says what each folder may import)`,
            })),
          },
        ],
      },
    };
  });
}
