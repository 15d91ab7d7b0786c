import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Drivers are imported only under src/adapters/ (and by tests, dev/, the benchmark and scripts, which drive
// the real services directly). Flat config replaces a rule's options per block instead of merging
// them, so the blocks below that set no-restricted-imports for other reasons repeat these paths.
const DRIVERS = ['pg', 'pg-copy-streams', 'ioredis', '@platformatic/kafka', 'mqtt', 'aedes'].map((name) => ({
  name,
  message: 'Drivers are imported only under src/adapters/: use or add an adapter behind a port.'
}))

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', '.cache/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration through src/platform/config.ts.' }]
    }
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/adapters/**', '**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: DRIVERS }] }
  },
  {
    // Adapters are built in one place, src/wiring.ts, which hands out ports: nothing else in src/
    // imports an adapter (tests do, to test them).
    files: ['src/**/*.ts'],
    ignores: ['src/adapters/**', 'src/wiring.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: DRIVERS, patterns: [{ group: ['**/adapters/**'], message: 'Adapters are built in src/wiring.ts only: ask it for the port.' }] }
      ]
    }
  },
  {
    files: ['src/platform/config.ts', 'test/**', 'scripts/**', 'bench/**', 'dev/**', '**/*.test.ts'],
    rules: { 'no-restricted-properties': 'off' }
  },
  {
    files: ['src/domain/**'],
    rules: { 'no-restricted-imports': ['error', { paths: DRIVERS, patterns: ['../ports/*', '../adapters/*', '../services/*', '../platform/*'] }] }
  },
  {
    // The dashboard's plain browser modules (served as they are, no build step).
    files: ['src/services/api/dashboard/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'localStorage',
          'matchMedia',
          'fetch',
          'EventSource',
          'URL',
          'Element',
          'HTMLElement',
          'ResizeObserver',
          'requestAnimationFrame',
          'getComputedStyle',
          'setInterval',
          'setTimeout',
          'console',
          'performance',
          'Intl',
          'sessionStorage',
          'Headers',
          'EventTarget',
          'Event',
          'MessageEvent',
          'AbortController',
          'TextDecoderStream'
        ].map((g) => [g, 'readonly'])
      )
    }
  }
)
