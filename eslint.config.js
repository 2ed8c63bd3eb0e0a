// Typed lint rules for the whole project. Folder boundaries are enforced here, not by convention:
// each runnable part talks to the others only through Kafka, ClickHouse or the shared folders
// (schemas/, lib/, models/).
import tseslint from 'typescript-eslint';

const onlyShared = (from, forbidden) => ({
  files: [`${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((f) => ({ group: [`**/${f}/*`], message: `${from}/ must not import ${f}/` })),
      },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.hitstream/',
      'tmp/',
      'dashboards/generated/',
      'bin/*.js',
      'eslint.config.js',
      'api/web/',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test() returns a promise the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  onlyShared('producers', ['scorers', 'api', 'cli']),
  onlyShared('scorers', ['producers', 'api', 'cli']),
  onlyShared('api', ['scorers', 'cli']),
  onlyShared('schemas', ['producers', 'scorers', 'api', 'cli', 'infra']),
  onlyShared('lib', ['producers', 'scorers', 'api', 'cli']),
);
