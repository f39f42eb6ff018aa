import { defineConfig } from 'vitest/config';

// Decorator metadata comes from tsconfig (experimentalDecorators + emitDecoratorMetadata);
// vite 8 (Oxc) honours both, so no SWC plugin is needed.
export default defineConfig({
  test: {
    // bench/: the harness's own logic (turns, slice sums), plain ESM.
    include: ['src/**/*.spec.ts', 'test/**/*.e2e-spec.ts', 'bench/**/*.spec.mjs'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // 2-core machines: a few files at a time keeps socket timing honest.
    maxWorkers: 2,
    setupFiles: ['reflect-metadata'],
  },
});
