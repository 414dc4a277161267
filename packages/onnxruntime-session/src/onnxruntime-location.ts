import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Where onnxruntime-node keeps its native libraries for this platform, and the CUDA provider's file there. */
export function onnxruntimeNodeLocation(): { packageDir: string; binaryDir: string; cudaLibrary: string } {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  const packageDir = dirname(dirname(entry));
  const binaryDir = join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
  const cudaLibrary = join(binaryDir, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
  return { packageDir, binaryDir, cudaLibrary };
}

/** Whether onnxruntime-node's CUDA provider library is on disk (it is downloaded separately from the package). */
export function cudaProviderInstalled(): boolean {
  return existsSync(onnxruntimeNodeLocation().cudaLibrary);
}
