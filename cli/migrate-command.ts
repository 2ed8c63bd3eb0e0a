import type { Command } from "commander"; export function registerMigrateCommand(_p: Command): void {}
