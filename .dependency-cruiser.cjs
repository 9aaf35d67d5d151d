/**
 * Ward's layering (ARCHITECTURE.md, "Layers and folders"), held by a tool rather than by memory.
 * Dependencies point down; a folder is entered only through its index.ts.
 */
const layer = (name) => `^src/${name}/`;
const others = (...allowed) => `^src/(?!(${allowed.join('|')})/)[^/]+/`;

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    {
      name: 'fhir-is-pure',
      comment: 'src/fhir holds pure FHIR knowledge: nothing of ours, no I/O beyond reading the definitions package.',
      severity: 'error',
      from: { path: layer('fhir'), pathNot: '^src/fhir/definitions-(folder|package)\\.ts$' },
      to: { path: ['^node:(fs|net|http|https|child_process|dgram|dns|tls)', others('fhir')] },
    },
    {
      name: 'policy-is-pure',
      comment: 'Policy decisions are pure functions of principal, action and target.',
      severity: 'error',
      from: { path: layer('policy') },
      to: { path: ['^node:(fs|net|http|https|child_process|dgram|dns|tls)', others('fhir', 'policy')] },
    },
    { name: 'crypto-layer', severity: 'error', from: { path: layer('crypto') }, to: { path: others('crypto', 'fhir') } },
    { name: 'store-layer', severity: 'error', from: { path: layer('store') }, to: { path: others('store', 'fhir', 'crypto') } },
    { name: 'audit-layer', severity: 'error', from: { path: layer('audit') }, to: { path: others('audit', 'store', 'crypto', 'fhir') } },
    {
      name: 'identity-layer',
      severity: 'error',
      from: { path: layer('identity') },
      to: { path: others('identity', 'store', 'crypto', 'audit', 'fhir', 'policy') },
    },
    {
      name: 'vault-layer',
      severity: 'error',
      from: { path: layer('vault') },
      to: { path: others('vault', 'fhir', 'crypto', 'store', 'audit', 'policy') },
    },
    {
      name: 'services-above-vault',
      comment: 'Use cases reach data only through the vault: never the store or crypto directly.',
      severity: 'error',
      from: { path: layer('services') },
      to: { path: others('services', 'vault', 'fhir', 'policy') },
    },
    {
      name: 'edge-above-services',
      comment: 'The edge adapts HTTP to use cases; it never touches the store, crypto, audit or vault itself.',
      severity: 'error',
      from: { path: layer('edge') },
      to: { path: others('edge', 'services', 'identity', 'fhir', 'policy') },
    },
    {
      name: 'enter-through-index',
      comment: "Other folders import a folder's public face (index.ts), never its inner files.",
      severity: 'error',
      from: { path: '^src/([^/]+)/', pathNot: '^src/cli/' },
      to: { path: '^src/[^/]+/(?!index\\.ts$).+', pathNot: '^src/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
