/**
 * Certificate verification codes.
 *
 * A code is 80 random bits written as 16 Crockford base-32 symbols, followed by one check symbol,
 * grouped for reading aloud and typing: `7K3M-Q9ZD-2W4H-XR8N-P`.
 *
 * The check symbol is a Damm check over GF(32) (see {@link checkSymbol}). It stays inside the
 * 32-symbol alphabet (Crockford's own mod-37 check needs the extra symbols `* ~ $ = U`, awkward to
 * read out, to type and to put in a URL) and it detects **every** single-symbol substitution and
 * **every** transposition of two adjacent symbols, including a swap with the check symbol itself.
 * That is the guarantee Crockford's mod-37 gives, and stronger than Luhn mod N, which misses
 * some adjacent transpositions.
 */
import { randomBytes } from 'node:crypto';

/** Crockford's base-32 alphabet: digits and letters without I, L, O, U. */
export const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Number of random symbols (16 × 5 = 80 bits). */
export const CODE_DATA_SYMBOLS = 16;

/** Random bits in a code. */
export const CODE_RANDOM_BITS = CODE_DATA_SYMBOLS * 5;

const VALUE = new Map<string, number>([...CODE_ALPHABET].map((c, i) => [c, i]));

/** Multiplication by x in GF(2^5) with the irreducible polynomial x^5 + x^2 + 1. */
function timesX(v: number): number {
  const shifted = v << 1;
  return shifted & 0b100000 ? shifted ^ 0b100101 : shifted;
}

/**
 * Damm's operation on the quasigroup x∘y = 2·x + y over GF(32). Since 2 ≠ 0 and 2 ≠ 1, it is a
 * quasigroup (both x ↦ x∘y and y ↦ x∘y are bijections: every single substitution changes the result)
 * and weakly totally anti-symmetric: (c∘x)∘y = (c∘y)∘x ⇔ (2+1)(x+y) = 0 ⇔ x = y (every adjacent
 * transposition changes the result).
 */
function step(interim: number, value: number): number {
  return timesX(interim) ^ value;
}

/** The check symbol for a string of data symbols (alphabet values): the one that brings the fold to 0. */
export function checkSymbol(data: string): string {
  let interim = 0;
  for (const c of data) {
    const v = VALUE.get(c);
    if (v === undefined) throw new Error(`not a code symbol: ${JSON.stringify(c)}`);
    interim = step(interim, v);
  }
  // interim∘c = 2·interim + c = 0  ⇔  c = 2·interim (in characteristic 2, minus is plus).
  return CODE_ALPHABET[timesX(interim)]!;
}

function foldsToZero(symbols: string): boolean {
  let interim = 0;
  for (const c of symbols) interim = step(interim, VALUE.get(c)!);
  return interim === 0;
}

/** Groups 17 bare symbols as `XXXX-XXXX-XXXX-XXXX-C`. */
function group(symbols: string): string {
  return `${symbols.slice(0, 4)}-${symbols.slice(4, 8)}-${symbols.slice(8, 12)}-${symbols.slice(12, 16)}-${symbols.slice(16)}`;
}

/** A new code from `crypto.randomBytes` (80 bits), grouped, with its check symbol. */
export function generateCode(): string {
  const bytes = randomBytes(CODE_RANDOM_BITS / 8);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let data = '';
  for (let i = CODE_DATA_SYMBOLS - 1; i >= 0; i--) data += CODE_ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return group(data + checkSymbol(data));
}

/**
 * The canonical grouped form of what someone typed, or `null` when it cannot be a code (wrong
 * length or a symbol outside the alphabet). Accepts lower case, spaces, dashes (any of them, or
 * none), and reads O as 0 and I/L as 1, as Crockford's decoding does. Does not verify the check
 * symbol: use {@link isValidCode} for that.
 */
export function normaliseCode(input: string): string | null {
  const bare = input
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[\s\-‐-―_.]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  if (bare.length !== CODE_DATA_SYMBOLS + 1) return null;
  for (const c of bare) if (!VALUE.has(c)) return null;
  return group(bare);
}

/** True when the input normalises to a code whose check symbol matches (a mistyped code is refused). */
export function isValidCode(input: string): boolean {
  const code = normaliseCode(input);
  return code !== null && foldsToZero(code.replace(/-/g, ''));
}

/** The public verification page of a code: `<baseUrl>/verify/<code>`. */
export function verificationUrl(baseUrl: string, code: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/verify/${code}`;
}
