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
    ignores: ['src/services/**/main.ts', 'src/services/**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/adapters/**'] }] }
  }
)
