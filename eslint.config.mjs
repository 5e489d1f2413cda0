// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const APPS = ['auth', 'metering', 'quota', 'upstream-example'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tally/**', 'scripts/kafka/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unsafe-function-type': 'off',
      'no-console': 'off',
    },
  },
  // Module boundaries: an app imports libs only, never another app; libs never import apps.
  ...APPS.map((app) => ({
    files: [`apps/${app}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `(^|/)apps/(?!${app}/)`,
              message: `apps/${app} may import libs (@tally/*) only, never another app.`,
            },
            ...APPS.filter((other) => other !== app).map((other) => ({
              group: [`**/${other}/src/**`, `../../${other}/**`, `../${other}/**`],
              message: `apps/${app} may import libs (@tally/*) only, never apps/${other}.`,
            })),
          ],
        },
      ],
    },
  })),
  {
    files: ['libs/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)apps/', message: 'libs never import apps.' }] }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
