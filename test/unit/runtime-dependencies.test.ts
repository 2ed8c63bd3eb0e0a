/**
 * The Docker image installs `npm ci --omit=dev`: every package the `hitstream` command can load
 * must be in package.json's `dependencies`. Before this test, the API's dashboards routes imported
 * a devDependency and the image could not even print `--help` (ERR_MODULE_NOT_FOUND).
 *
 * Walks the imports from bin/hitstream.js, static and dynamic, as TypeScript parses them (type-only
 * imports are erased and load nothing). bench/ is the exception by design: its runs are imported
 * only when a bench is asked for (cli/bench-command.ts), and they use devDependencies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

/** The module specifiers a file loads when it runs. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly)
      found.push((node.moduleSpecifier as ts.StringLiteral).text);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly)
      found.push((node.moduleSpecifier as ts.StringLiteral).text);
    else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    )
      found.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** Every package the command can load, with the first file of ours that loads it. */
function packagesLoadedFrom(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [resolve(ROOT, entry)];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (relative(ROOT, target).startsWith('bench/')) continue;
        if (/\.(ts|js)$/.test(target)) queue.push(target);
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        const name = packageOf(spec);
        if (!packages.has(name)) packages.set(name, relative(ROOT, file));
      }
    }
  }
  return packages;
}

test('every package the hitstream command can load is a dependency, not a devDependency', () => {
  const loaded = packagesLoadedFrom('bin/hitstream.js');
  assert.ok(
    loaded.has('@platformatic/kafka') && loaded.has('fastify'),
    'the walk reaches the worker and the API',
  );
  const missing = [...loaded]
    .filter(([name]) => !(name in pkg.dependencies))
    .map(([name, file]) => `${name} (imported by ${file})`);
  assert.deepEqual(missing, [], 'move these to "dependencies": npm ci --omit=dev leaves them out');
});

test('the walk skips type-only imports and finds static, re-exported and dynamic ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hitstream-imports-'));
  const file = join(dir, 'probe.ts');
  writeFileSync(
    file,
    [
      "import type { A } from 'erased-a';",
      "import { type B, c } from 'kept-c';",
      "export type { D } from 'erased-d';",
      "export { e } from 'kept-e';",
      "const f = await import('kept-f');",
      "const g = 'import(\\'not-an-import\\')';",
    ].join('\n'),
  );
  try {
    assert.deepEqual(runtimeImports(file), ['kept-c', 'kept-e', 'kept-f']);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
