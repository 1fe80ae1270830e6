/**
 * npm run deploy:gen: writes docker-compose.yml, the gateway's nginx.conf, .env.example, the
 * Prometheus and Grafana files of compose's observability profile, and the Kubernetes base and
 * components from the function registry and lib/. The files are committed; deploy.unit.test.ts
 * fails when they differ from what this writes. Kubernetes files of removed functions are deleted.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeFile, composeValues, envExample, NGINX_CONF, nginxConf } from './compose.ts';
import { describeFunctions } from './functions.ts';
import { BASE_DIR, k8sFiles, LAG_PER_REPLICA } from './k8s.ts';
import { observabilityFiles } from './observability.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every generated file, by path from the repository root. */
export async function generatedFiles(): Promise<Record<string, string>> {
  const functions = await describeFunctions();
  return {
    'docker-compose.yml': composeFile(functions),
    [NGINX_CONF]: nginxConf(functions),
    '.env.example': envExample(),
    ...observabilityFiles(functions, composeValues(), LAG_PER_REPLICA),
    ...k8sFiles(functions),
  };
}

/** The generated function manifests on disk, so those of a function no longer registered go. */
export async function functionManifestPaths(): Promise<string[]> {
  const entries = await readdir(`${ROOT}${BASE_DIR}/functions`).catch(() => []);
  return entries.map((entry) => `${BASE_DIR}/functions/${entry}`);
}

async function main(): Promise<void> {
  const files = await generatedFiles();
  for (const stale of await functionManifestPaths()) {
    if (!(stale in files)) await rm(`${ROOT}${stale}`);
  }
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(`${ROOT}${path}`), { recursive: true });
    await writeFile(`${ROOT}${path}`, content);
  }
  console.error(`deploy: wrote ${Object.keys(files).length} files`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
