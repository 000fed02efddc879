// Flat ESLint config: typescript-eslint's recommended rules plus the module boundary rule.
// Boundaries come from each package's Nx tags (package.json "nx.tags"): a package may import
// only the workspace packages whose tags its own tags allow.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { readFileSync, readdirSync } from 'node:fs';

/** Which tags a tag may depend on (Nx depConstraints). */
const DEP_CONSTRAINTS = {
  'scope:core': [],
  'scope:lib': ['scope:core'],
  // the labelling engine classifier plugins share: core only, and nothing but handlers use it
  'scope:labelling': ['scope:core'],
  'scope:handler': ['scope:core', 'scope:labelling'],
  'scope:app': ['scope:core', 'scope:lib'],
  'scope:worker': ['scope:core', 'scope:lib', 'scope:app'],
};

const packages = readdirSync('packages').map((dir) => {
  const manifest = JSON.parse(readFileSync(`packages/${dir}/package.json`, 'utf8'));
  return { dir, name: manifest.name, tags: manifest.nx?.tags ?? [] };
});

const boundaryConfigs = packages.map((pkg) => {
  const allowed = new Set(pkg.tags.flatMap((tag) => DEP_CONSTRAINTS[tag] ?? []));
  const forbidden = packages
    .filter((other) => other.name !== pkg.name && !other.tags.some((tag) => allowed.has(tag)))
    .map((other) => other.name);
  return {
    files: [`packages/${pkg.dir}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: forbidden.flatMap((name) => [name, `${name}/*`]),
              message: `${pkg.name} (${pkg.tags.join(', ')}) may not import this package: see DEP_CONSTRAINTS in eslint.config.mjs.`,
            },
          ],
        },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', '.nx/**', '**/*.cjs', 'tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // CommonJS launchers (bin/*.js) and benches run as plain Node scripts.
    files: ['**/bin/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', setTimeout: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['bench/**/*.mjs', 'scripts/**/*.mjs'],
    languageOptions: { globals: { setTimeout: 'readonly', performance: 'readonly', fetch: 'readonly' } },
  },
  {
    // the dashboard's page script runs in the browser
    files: ['packages/dashboard/assets/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'document',
          'window',
          'fetch',
          'location',
          'URLSearchParams',
          'EventSource',
          'CSS',
          'requestAnimationFrame',
          'uPlot',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['**/tests/**/*.ts', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-unused-vars': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
  ...boundaryConfigs,
);
