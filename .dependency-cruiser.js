// The house rules on who may import whom, checked by `npm run lint` (docs/architecture.md,
// "The shape of the code"). Type-only imports count: a cycle through types still ties two files
// together, and moving one of them then breaks the other.

// A plugin's own tests boot it and look inside it (its models, its services), so test folders may
// import any plugin's internals and any host file; the plugin code they test may not.
const TESTS = '^plugins/[^/]+/test/';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'Files import each other in a circle (type-only imports included): move what both need into a third file.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'host-never-imports-plugins',
      comment: 'The host (src/) knows nothing of any plugin: plugins reach it through refs and extension points.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^plugins/' },
    },
    {
      name: 'plugin-uses-host-public-api',
      comment: "A plugin imports the host only through src/index.ts, the host's public API.",
      severity: 'error',
      from: { path: '^plugins/', pathNot: TESTS },
      to: { path: '^src/', pathNot: '^src/index\\.ts$' },
    },
    {
      name: 'plugin-uses-other-plugins-contract',
      comment: 'A plugin imports another plugin only through its contract.ts (refs, event names, types); its own files freely.',
      severity: 'error',
      from: { path: '^plugins/([^/]+)/', pathNot: TESTS },
      to: { path: '^plugins/', pathNot: ['^plugins/$1/', '^plugins/[^/]+/contract\\.ts$'] },
    },
  ],
  options: {
    // Type-only imports are dependencies too (see the top of this file).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|data|\\.olive|\\.tmp|coverage)/' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
    skipAnalysisNotInRules: true,
  },
};
