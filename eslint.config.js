// ESLint flat config: typescript-eslint's type-checked rules, and the layering of
// docs/architecture.md as import boundaries (eslint-plugin-boundaries). `npm run lint` runs it
// with the type-check and the Prettier check; test/lint-boundaries.e2e-spec.ts proves that each
// boundary rule fails on a fixture that breaks it.
import eslint from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';
import { layerElements, layerPolicies } from './eslint.layers.js';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'bench/**',
      'scripts/**',
      'examples/**',
      'test-artifacts/**',
      'test/fixtures/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
        // Nest injects by constructor parameter types: with decorator metadata on, a class used
        // only as a parameter type is a value, and must not become `import type` (it would
        // break DI at run time).
        emitDecoratorMetadata: true,
        experimentalDecorators: true,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // In-memory adapters implement async ports (so a shared store can be swapped in) without
      // awaiting anything themselves: an `async` method with no await is the point there.
      '@typescript-eslint/require-await': 'off',
      // A `let` read by a closure before its one assignment (a client whose callback needs the client) stays a let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // The import boundaries: see eslint.layers.js for the elements and the allowed arrows.
    // src/index.ts (the public API) and src/main.ts (the demo's bootstrap) sit above every layer.
    files: ['src/*/**/*.ts', 'client/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: { alwaysTryTypes: true, project: './tsconfig.json' } },
      'boundaries/elements': layerElements,
      'boundaries/include': ['src/*/**/*.ts', 'client/**/*.ts'],
    },
    rules: {
      // External packages and files outside every layer are checked too (not only local layers).
      'boundaries/dependencies': ['error', { default: 'disallow', checkAllOrigins: true, checkUnknownLocals: true, policies: layerPolicies }],
    },
  },
  {
    // src/index.ts (the package entry) and src/main.ts sit outside every layer, so the boundary
    // rule does not see them: no layer may import them.
    files: ['src/*/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\.\\./)+(index|main)\\.js$', message: 'the entry point and main.ts are imported by no layer' }] },
      ],
    },
  },
  {
    // Tests drive the real app through its internals and the SDK through loosely typed frames.
    files: ['test/**/*.ts', 'src/**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // ws hands tests `RawData` (Buffer | ArrayBuffer | Buffer[]): its toString() is the text.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
);
