#!/usr/bin/env node
// Olive runs its TypeScript sources through tsx's loader (no build step); see README.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
