// ESLint for Olive, run by `npm run lint` (and so by `npm test`). Layout is Prettier's job
// (.prettierrc); who may import whom is dependency-cruiser's (.dependency-cruiser.js).
//
// No type-aware rules (no-floating-promises and the like): they build the whole TypeScript program
// a second time after `npm run typecheck`, measured at four times the CPU of this lint on the
// 2-core machine (90 s against 22 s), for one finding in today's code.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', '.olive/', '.tmp/', 'coverage/', 'tools/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: globals.node,
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // An unused name is a leftover; a leading underscore says "unused on purpose" (a handler's `_req`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // Type-only imports say so (tsconfig's verbatimModuleSyntax relies on it); `import('…').T` in a
      // type position is fine where one type is needed once.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // `interface User extends SessionUser {}` is how Express's and passport's types are augmented.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
      // Olive strips and rejects control characters on purpose (return-to URLs, file names, CSV cells).
      'no-control-regex': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // A `let` declared before a closure that reads it and assigned once after is deliberate
      // (app.ts wires services that refer to each other).
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }],
      'no-var': 'error',
    },
  },
  {
    files: ['test/**', 'plugins/*/test/**'],
    rules: {
      // chai's property assertions (`expect(x).to.exist`, `.to.be.true`) are expressions by design.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
);
