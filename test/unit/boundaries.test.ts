/**
 * The folder boundaries (eslint.boundaries.js): an import that crosses one fails the lint, an
 * allowed one passes, the project's lint config applies them, and each folder's README names the
 * same rooms it may import.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { boundaryRules, ROOMS } from '../../eslint.boundaries.js';

type Room = string;
const rooms: Room[] = Object.keys(ROOMS);

const eslint = new ESLint({
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...boundaryRules()],
});

/** The messages of a one-line file in `room` that imports a module of `target`. */
async function lintImport(room: Room, target: Room): Promise<string[]> {
  const code = `import { x } from '../${target}/some-module.ts';\nexport const y = x;\n`;
  const [result] = await eslint.lintText(code, { filePath: `${room}/deeper/probe.ts` });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

test('an import across a boundary fails the lint, naming both folders; an allowed one passes', async () => {
  for (const room of rooms)
    for (const target of rooms) {
      if (target === room) continue;
      const messages = await lintImport(room, target);
      if (ROOMS[room]!.includes(target)) assert.deepEqual(messages, [], `${room} → ${target} is allowed`);
      else
        assert.match(
          messages.join('\n'),
          new RegExp(`no-restricted-imports: .*${room}/ must not import ${target}/`),
          `${room} → ${target} must fail`,
        );
    }
});

test('serving never imports training, nor the registry, nor anything that runs', async () => {
  for (const target of ['training', 'registry', 'scorers', 'api', 'cli'])
    assert.notDeepEqual(await lintImport('models', target), [], `models → ${target}`);
  for (const room of ['scorers', 'api', 'registry'])
    assert.notDeepEqual(await lintImport(room, 'training'), [], `${room} → training`);
  assert.deepEqual(ROOMS.lib, []);
  assert.deepEqual(ROOMS.schemas, []);
});

test("the project's lint config applies the boundary rules to every folder", async () => {
  const project = new ESLint();
  for (const room of rooms) {
    const config = (await project.calculateConfigForFile(`${room}/probe.ts`)) as {
      rules: Record<string, unknown>;
    };
    assert.ok(config.rules['no-restricted-imports'], `${room}/ has its boundary rule`);
  }
});

test("each folder's README says what it holds and exactly the folders it may import", () => {
  for (const room of rooms) {
    const text = readFileSync(`${room}/README.md`, 'utf8');
    const line = /^May import: (.*)$/m.exec(text);
    assert.ok(line, `${room}/README.md has a "May import:" line`);
    const named = line[1]!.match(/`?([a-z]+)\/`?/g)?.map((s) => s.replace(/[`/]/g, '')) ?? [];
    assert.deepEqual(
      [...named].sort(),
      [...ROOMS[room]!].sort(),
      `${room}/README.md matches eslint.boundaries.js`,
    );
  }
});
