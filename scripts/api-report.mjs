#!/usr/bin/env node
// The public API reports of the package's two entry points, made by @microsoft/api-extractor
// from the built declarations (run `npm run build` first):
//
//   .         dist/index.d.ts             → api/canvas-connection-manager.api.md
//   ./client  dist/sdk/client/index.d.ts  → api/client.api.md
//
// `npm run api:check` (this script) fails when a report differs from the checked-in one, so a
// change to the exported surface (and every breaking change) is a visible diff in review;
// `npm run api:update` (--update) rewrites the reports. api-extractor 7.60 bundles TypeScript
// 6.0, the compiler this repository uses. Its scratch files go to node_modules/.cache.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const update = process.argv.includes('--update');

const entries = [
  { name: 'canvas-connection-manager', entry: 'dist/index.d.ts' },
  { name: 'client', entry: 'dist/sdk/client/index.d.ts' },
];

let failed = false;
for (const { name, entry } of entries) {
  const mainEntryPointFilePath = join(root, entry);
  if (!existsSync(mainEntryPointFilePath)) {
    console.error(`${entry} is missing: run \`npm run build\` first`);
    process.exit(1);
  }
  const config = ExtractorConfig.prepare({
    configObjectFullPath: join(root, 'api', `${name}.api-extractor.json`),
    packageJsonFullPath: join(root, 'package.json'),
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath,
      // The declarations alone, with the repository's lib and Node types; nothing is emitted.
      compiler: { overrideTsconfig: { compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2023', lib: ['ES2023', 'DOM'], types: ['node'], skipLibCheck: true }, files: [mainEntryPointFilePath] } },
      apiReport: {
        enabled: true,
        reportFileName: `${name}.api.md`,
        reportFolder: join(root, 'api'),
        reportTempFolder: join(root, 'node_modules/.cache/api-extractor', name),
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: 'warning' } },
        // Findings about the surface (a type used but not exported, a missing release tag) are
        // written into the report itself, where review sees them, instead of failing here.
        extractorMessageReporting: { default: { logLevel: 'warning', addToApiReportFile: true }, 'ae-missing-release-tag': { logLevel: 'none' }, 'ae-unresolved-link': { logLevel: 'none' }, 'ae-undocumented': { logLevel: 'none' } },
        tsdocMessageReporting: { default: { logLevel: 'none' } },
      },
    },
  });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false });
  if (result.apiReportChanged && !update) {
    const fresh = join(root, 'node_modules/.cache/api-extractor', name, `${name}.api.md`);
    spawnSync('diff', ['-u', join(root, 'api', `${name}.api.md`), fresh], { stdio: 'inherit' });
    console.error(`api/${name}.api.md differs from the exported API of ${entry} (diff above): if the change is intended, run \`npm run api:update\` and commit the report.`);
    failed = true;
  } else if (!result.succeeded) {
    console.error(`api-extractor failed on ${entry}: ${result.errorCount} errors, ${result.warningCount} warnings`);
    failed = true;
  } else {
    console.log(`api/${name}.api.md ${update && result.apiReportChanged ? 'updated' : 'is up to date'}`);
  }
}
process.exit(failed ? 1 : 0);
