import { expect } from 'chai';
import fc from 'fast-check';
import { CODE_ALPHABET, CODE_RANDOM_BITS, checkSymbol, generateCode, isValidCode, normaliseCode, verificationUrl } from '../code.ts';

const FORMAT = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]$/;

/** Arbitrary valid codes built from arbitrary data symbols (not only from generateCode's randomness). */
const dataSymbols = fc.array(fc.constantFrom(...CODE_ALPHABET), { minLength: 16, maxLength: 16 }).map((a) => a.join(''));
const validCode = dataSymbols.map((d) => {
  const s = d + checkSymbol(d);
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16)}`;
});

describe('certificates: verification codes', () => {
  it('look like XXXX-XXXX-XXXX-XXXX-C in Crockford base 32 (no I, L, O, U) and carry 80 random bits', () => {
    expect(CODE_RANDOM_BITS).to.be.at.least(80);
    for (let i = 0; i < 200; i++) {
      const code = generateCode();
      expect(code).to.match(FORMAT);
      expect(code).not.to.match(/[ILOU]/);
      expect(isValidCode(code)).to.equal(true);
    }
  });

  it('are not repeated and use every symbol in every position (randomness is not stuck)', () => {
    const codes = Array.from({ length: 4000 }, generateCode);
    expect(new Set(codes).size).to.equal(codes.length);
    for (let pos = 0; pos < 19; pos++) {
      if (pos % 5 === 4) continue; // dashes
      const seen = new Set(codes.map((c) => c[pos]));
      expect(seen.size, `position ${pos}`).to.equal(32);
    }
  });

  it('detect every single-symbol substitution (property)', () => {
    fc.assert(
      fc.property(validCode, fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 31 }), (code, at, delta) => {
        const bare = code.replace(/-/g, '');
        const wrong = CODE_ALPHABET[(CODE_ALPHABET.indexOf(bare[at]!) + delta) % 32]!;
        const typo = bare.slice(0, at) + wrong + bare.slice(at + 1);
        expect(isValidCode(typo), `${code} → ${typo}`).to.equal(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('detect every transposition of two different adjacent symbols, the check symbol included (property)', () => {
    fc.assert(
      fc.property(validCode, fc.integer({ min: 0, max: 15 }), (code, at) => {
        const bare = code.replace(/-/g, '');
        fc.pre(bare[at] !== bare[at + 1]);
        const swapped = bare.slice(0, at) + bare[at + 1] + bare[at] + bare.slice(at + 2);
        expect(isValidCode(swapped), `${code} → ${swapped}`).to.equal(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('every substitution and adjacent transposition of one code, exhaustively', () => {
    const bare = generateCode().replace(/-/g, '');
    let tried = 0;
    for (let at = 0; at < 17; at++) {
      for (const c of CODE_ALPHABET) {
        if (c === bare[at]) continue;
        expect(isValidCode(bare.slice(0, at) + c + bare.slice(at + 1))).to.equal(false);
        tried++;
      }
      if (at < 16 && bare[at] !== bare[at + 1]) {
        expect(isValidCode(bare.slice(0, at) + bare[at + 1] + bare[at] + bare.slice(at + 2))).to.equal(false);
      }
    }
    expect(tried).to.equal(17 * 31);
  });

  it('are read the way people type them: lower case, spaces, no dashes, O for 0, I and L for 1', () => {
    fc.assert(
      fc.property(validCode, fc.array(fc.constantFrom(' ', '-', '  ', '–'), { minLength: 17, maxLength: 17 }), (code, seps) => {
        const bare = code.replace(/-/g, '');
        const sloppy = [...bare]
          .map((c, i) => {
            const typed = c === '0' ? 'O' : c === '1' ? (i % 2 ? 'l' : 'I') : c;
            return (i % 3 ? typed.toLowerCase() : typed) + (i % 4 === 0 ? seps[i]! : '');
          })
          .join('');
        expect(normaliseCode(sloppy)).to.equal(code);
        expect(isValidCode(sloppy)).to.equal(true);
      }),
      { numRuns: 500 },
    );
  });

  it('refuse inputs that cannot be a code', () => {
    const code = generateCode();
    expect(normaliseCode(code.slice(0, -1))).to.equal(null); // too short
    expect(normaliseCode(code + 'A')).to.equal(null); // too long
    expect(normaliseCode(code.replace(/.$/, 'U'))).to.equal(null); // U is not in the alphabet
    expect(normaliseCode(code.replace(/^./, '#'))).to.equal(null);
    expect(isValidCode('')).to.equal(false);
    expect(isValidCode('not a code at all')).to.equal(false);
  });

  it('build the verification address', () => {
    expect(verificationUrl('https://olive.example/', 'ABCD-EFGH-JKMN-PQRS-T')).to.equal('https://olive.example/verify/ABCD-EFGH-JKMN-PQRS-T');
    expect(verificationUrl('https://olive.example/ppcp', 'X')).to.equal('https://olive.example/ppcp/verify/X');
  });
});
