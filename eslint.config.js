import js from '@eslint/js'
import tseslint from 'typescript-eslint'

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
    files: ['src/platform/config.ts', 'test/**', 'scripts/**', 'bench/**', '**/*.test.ts'],
    rules: { 'no-restricted-properties': 'off' }
  },
  {
    files: ['src/domain/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../ports/*', '../adapters/*', '../services/*', '../platform/*'] }] }
  },
  {
    files: ['src/services/**'],
    // Composition roots may wire adapters: each main.ts, and the streaming data path that its main.ts runs in a worker.
    ignores: ['src/services/**/main.ts', 'src/services/streaming/data-path.ts', 'src/services/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/adapters/**'] }] }
  },
  {
    // The dashboard's plain browser modules (served as they are, no build step).
    files: ['src/services/api/dashboard/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'history', 'localStorage', 'matchMedia', 'fetch', 'EventSource', 'URL', 'Element', 'HTMLElement',
          'ResizeObserver', 'requestAnimationFrame', 'getComputedStyle', 'setInterval', 'setTimeout', 'console', 'performance', 'Intl'].map((g) => [g, 'readonly'])
      )
    }
  }
)
