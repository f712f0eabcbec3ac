// The layers of Nudge (README "Design notes": the layers), held by `npm run check`:
// core ← ports ← runtime/replay ← adapters; api routes on ports; composition roots in bin/.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'an import circle: the modules cannot be read, tested or moved one at a time',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment:
        'the decision core depends on nothing outside it (DESIGN §1): no ports, adapters, runtime, api',
      from: { path: '^pipeline/core/' },
      to: { path: '^(pipeline/(?!core/)|api/|bin/|bench/)' },
    },
    {
      name: 'ports-are-interfaces',
      severity: 'error',
      comment: 'ports name what the core and the runtime need, never a technology',
      from: { path: '^pipeline/ports/' },
      to: { path: '^(pipeline/(adapters|runtime|replay)/|api/|bin/)' },
    },
    {
      name: 'routes-reach-services-through-ports',
      severity: 'error',
      comment: 'the API is given ports; only the composition roots (bin/) choose adapters',
      from: { path: '^api/' },
      to: { path: '^(pipeline/adapters/|bin/)' },
    },
    {
      name: 'runtime-and-replay-on-ports',
      severity: 'error',
      comment: 'the matcher and the replayer depend on ports and the core only; adapters are injected',
      from: { path: '^pipeline/(runtime|replay)/' },
      to: { path: '^(pipeline/adapters/|api/|bin/)' },
    },
    {
      name: 'one-technology-an-adapter',
      severity: 'error',
      comment: 'an adapter of one technology never imports another one’s',
      from: { path: '^pipeline/adapters/([^/]+)/' },
      to: { path: '^pipeline/adapters/([^/]+)/', pathNot: '^pipeline/adapters/$1/' },
    },
    {
      name: 'nothing-imports-the-roots',
      severity: 'error',
      comment: 'bin/ composes everything; nothing of the product depends on it',
      from: { path: '^(pipeline|api)/' },
      to: { path: '^bin/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|\\.data|bench/out)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
