import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ROLES } from './access.ts';
import type { UsersService } from './host-contract.ts';

const demoUsers = z.array(
  z.object({
    email: z.email(),
    name: z.string().min(1),
    roles: z.array(z.enum(ROLES)).min(1),
    password: z.string().min(10),
    organisation: z.string().optional(),
    locale: z.string().optional(),
  }),
);

/** Creates the demo accounts of fixtures/host/users.json that do not exist yet; never touches existing ones. */
export async function seedHost(users: UsersService, fixturesDir: string): Promise<void> {
  const file = path.join(fixturesDir, 'host', 'users.json');
  const list = demoUsers.parse(JSON.parse(await fs.readFile(file, 'utf8')));
  // Side by side: each account costs a password hash (scrypt, tens of ms of a core), and `ensure`
  // is safe against a concurrent creation of the same address.
  await Promise.all(list.map((u) => users.ensure(u, 'demo')));
}
