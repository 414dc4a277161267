import { bigNpyMemorySuite } from './test-support/memory-growth.js';

// One load per test file (a fresh process each), so this file reads only the float32 file.
bigNpyMemorySuite('<f4');
