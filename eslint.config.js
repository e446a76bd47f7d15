// Lint: ESLint's and typescript-eslint's recommended rules over the TypeScript sources, and
// the browser globals for the viz page. (Biome was tried first; its platform binaries are not
// all on the registry mirror CI installs from, which breaks `npm ci`.)
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.sector/', 'test-artifacts/', 'k8s/', '.scratch-*/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['viz/public/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
);
