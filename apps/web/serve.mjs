#!/usr/bin/env node
// Entry point: the server is TypeScript compiled to dist/ (run `pnpm build` first).
import { main } from './dist/serve.js';

await main(process.argv.slice(2));
