import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const typeChecked = ['**/*.ts']

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'test-results/**', 'test/e2e/screens/**']},
  js.configs.recommended,
  ...tseslint.configs.strict,
  // Type-aware rules (floating/misused promises, throws of non-Errors, `any` flowing in, …) on the
  // TypeScript of tsconfig.test.json's program: src, test and vitest.config.ts (src/web has its own check).
  ...tseslint.configs.recommendedTypeCheckedOnly.map((config) => ({
    ...config,
    files: typeChecked,
    ignores: ['src/web/**'],
  })),
  {
    files: typeChecked,
    ignores: ['src/web/**'],
    languageOptions: {parserOptions: {project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname}},
    rules: {
      // An `async` method that implements a Promise-returning interface without awaiting is fine.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
        structuredClone: 'readonly',
        performance: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      'no-console': 'error',
      // noUncheckedIndexedAccess makes every index access optional; `!` marks the ones known in range.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['scripts/**', 'test/**', 'bin/**'],
    rules: {'no-console': 'off'},
  },
  {
    // Tests read what a process or a fake server said with JSON.parse (`any`) and assert on it; the
    // assertions are the type check there. `String(error)` only builds a failure message. The promise
    // and throw rules stay on.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  // The web UI: plain browser ES modules, type-checked by tsconfig.web.json (checkJs + JSDoc).
  {
    files: ['src/web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        window: 'readonly',
        document: 'readonly',
        localStorage: 'readonly',
        sessionStorage: 'readonly',
        navigator: 'readonly',
        location: 'readonly',
        Node: 'readonly',
        HTMLElement: 'readonly',
        HTMLInputElement: 'readonly',
        HTMLButtonElement: 'readonly',
        HTMLDialogElement: 'readonly',
        HTMLSelectElement: 'readonly',
        HTMLTextAreaElement: 'readonly',
        HTMLTableRowElement: 'readonly',
        HTMLLIElement: 'readonly',
        Element: 'readonly',
        Event: 'readonly',
        CustomEvent: 'readonly',
        EventSource: 'readonly',
        requestAnimationFrame: 'readonly',
      },
    },
    rules: {'no-console': ['error', {allow: ['warn', 'error']}]},
  },
)
