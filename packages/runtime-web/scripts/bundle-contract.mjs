#!/usr/bin/env node
// After `tsc`: copies @hyperproto/model-contract's ES modules into dist/vendor/model-contract/ and points
// dist/contract.js at them, so that the built package runs in a page without a bundler with only onnxruntime-web
// mapped in its import map. The types (dist/*.d.ts) keep naming @hyperproto/model-contract, a dependency.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const contractDist = dirname(fileURLToPath(import.meta.resolve('@hyperproto/model-contract')));
const vendor = join(dist, 'vendor', 'model-contract');
rmSync(vendor, { recursive: true, force: true });
mkdirSync(vendor, { recursive: true });
const modules = readdirSync(contractDist).filter((file) => file.endsWith('.js'));
if (!modules.includes('index.js')) throw new Error(`${contractDist} has no index.js: build @hyperproto/model-contract first`);
for (const file of modules) {
  // Without the source map comment: the maps point at the contract's own src/, which is not shipped here.
  const code = readFileSync(join(contractDist, file), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
  const bare = code.match(/\bfrom\s+'(?!\.\/)[^']+'/);
  if (bare) throw new Error(`${file} of @hyperproto/model-contract imports ${bare[0]}; the contract must import only its own modules`);
  writeFileSync(join(vendor, file), code);
}
writeFileSync(
  join(dist, 'contract.js'),
  "// Replaced by scripts/bundle-contract.mjs: @hyperproto/model-contract, shipped inside this package for pages without a bundler.\nexport * from './vendor/model-contract/index.js';\n",
);
rmSync(join(dist, 'contract.js.map'), { force: true });
console.log(`bundled ${modules.length} modules of @hyperproto/model-contract into dist/vendor/model-contract`);
