// Typed lint rules for the whole project. Folder boundaries are enforced here, not by convention:
// eslint.boundaries.js lists what each folder may import; the runnable parts (producers/,
// scorers/, api/) talk to each other only through Kafka and ClickHouse.
import tseslint from 'typescript-eslint';
import { boundaryRules } from './eslint.boundaries.js';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.hitstream/',
      'tmp/',
      'dashboards/generated/',
      'bin/*.js',
      'eslint.config.js',
      'eslint.boundaries.js',
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
  ...boundaryRules(),
);
