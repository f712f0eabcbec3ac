// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', 'bench/out/', 'coverage/', '.dependency-cruiser.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
    },
  },
  {
    // The decision core is pure: no clock, no randomness, no I/O, no Node-only APIs (DESIGN §1).
    files: ['pipeline/core/**/*.ts'],
    ignores: ['pipeline/core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'crypto', 'net', 'http', 'child_process'],
              message: 'the core does no I/O',
            },
            {
              group: ['**/adapters/**', '**/runtime/**', '**/replay/**', '**/api/**'],
              message: 'the core depends on nothing outside it',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'the core reads no environment' },
        { name: 'setTimeout', message: 'the core has no timers' },
        { name: 'setInterval', message: 'the core has no timers' },
        { name: 'performance', message: 'the core reads no clock' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'the only time is entry.received_at' },
        { object: 'Math', property: 'random', message: 'the core is deterministic' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'the only time is entry.received_at',
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The dashboard runs in a browser, with Chart.js loaded before it.
    files: ['dashboards/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'document',
          'window',
          'location',
          'history',
          'sessionStorage',
          'fetch',
          'URLSearchParams',
          'Chart',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    // The demo app runs in a browser, with the SDK (/sdk/nudge.js) loaded before it.
    files: ['dashboards/demo.js'],
    languageOptions: { globals: { Nudge: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
);
