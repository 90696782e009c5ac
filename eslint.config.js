import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain Node scripts (the benchmark) run outside TypeScript's type-aware checks.
    files: ['**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Time of day comes only from the injected Clock (src/core/clock.ts), so tests move it instead
    // of sleeping and every timestamp the server writes agrees with the others
    // (docs/architecture.md#time). Durations stay on performance.now (monotonic).
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts', 'src/core/clock.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Read the time from the injected Clock (clock.now()); for a duration use performance.now().' }],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Read the time from the injected Clock (clock.now()), not new Date().' },
        { selector: "CallExpression[callee.name='Date']", message: 'Date() is the current time as text: read the time from the injected Clock.' },
      ],
    },
  },
  {
    // The vendor module is loaded in one place, once per process (docs/architecture.md: only ca/
    // touches keys); anywhere else a second PKCS11 object would initialise it again or unload it.
    files: ['src/**/*.ts'],
    ignores: ['src/ca/pkcs11/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'pkcs11js', message: 'Only src/ca/pkcs11/ loads the PKCS#11 module: use openPkcs11Token.' }] }],
    },
  },
);
