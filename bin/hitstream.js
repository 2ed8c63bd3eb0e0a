#!/usr/bin/env node
// The `hitstream` command. The project is TypeScript run directly through tsx (no build step,
// so nothing generated is ever committed); this shim registers tsx relative to this file and
// hands over to the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
