/** Country names in UN style and order (issue #15): the UN list, names, select order and typed names, without an app. */
import { createRequire } from 'node:module';
import { expect } from 'chai';
import countries from 'i18n-iso-countries';
import { UN_LANGUAGES, type UnLanguage } from '../../../src/index.ts';
import { countryName, countryOptions, parseCountry, regionOf } from '../services/profile.ts';

const require = createRequire(import.meta.url);
const list: {
  observerStates: string[];
  names: Record<string, Record<string, string>>;
  aliases: Record<string, string[]>;
} = require('../services/un-country-names.json');
const unCodes = Object.keys(list.names);
const byName = (lang: string) => new Map(countryOptions(lang).map((o) => [o.name, o.code]));

describe('country names in UN style and order', () => {
  describe('the UN list (un-country-names.json)', () => {
    it('holds the 193 Member States and the two observer States, the Holy See and the State of Palestine', () => {
      expect(unCodes).to.have.length(195);
      expect([...list.observerStates].sort()).to.deep.equal(['PS', 'VA']);
      for (const code of list.observerStates) expect(unCodes).to.include(code);
    });

    it('gives every State a name in each of the six UN languages, written cleanly', () => {
      for (const code of unCodes) {
        expect(Object.keys(list.names[code]!).sort(), code).to.deep.equal([...UN_LANGUAGES].sort());
        for (const lang of UN_LANGUAGES) {
          const name = list.names[code]![lang];
          expect(name, `${code} ${lang}`).to.be.a('string').and.not.equal('');
          expect(name, `${code} ${lang}`).to.equal(name!.trim().replace(/\s+/g, ' '));
        }
      }
    });

    it('names no two States alike in any language', () => {
      for (const lang of UN_LANGUAGES) {
        const names = unCodes.map((c) => list.names[c]![lang]);
        expect(new Set(names).size, lang).to.equal(names.length);
      }
    });

    it('keys every State by a valid ISO 3166-1 alpha-2 code that i18n-iso-countries knows, with a UN M49 region', () => {
      for (const code of unCodes) {
        expect(code).to.match(/^[A-Z]{2}$/);
        expect(countries.isValid(code), code).to.equal(true);
        expect(regionOf(code), code).to.not.equal('');
      }
      for (const code of Object.keys(list.aliases)) expect(unCodes, `alias of ${code}`).to.include(code);
    });
  });

  describe('countryName: the UN short name', () => {
    const expected: Record<string, Partial<Record<UnLanguage, string>>> = {
      CN: { en: 'China', fr: 'Chine', es: 'China', ru: 'Китай', ar: 'الصين', zh: '中国' },
      KP: {
        en: "Democratic People's Republic of Korea",
        fr: 'République populaire démocratique de Corée',
        es: 'República Popular Democrática de Corea',
        ru: 'Корейская Народно-Демократическая Республика',
        ar: 'جمهورية كوريا الشعبية الديمقراطية',
        zh: '朝鲜民主主义人民共和国',
      },
      KR: { en: 'Republic of Korea', fr: 'République de Corée', es: 'República de Corea', ru: 'Республика Корея', ar: 'جمهورية كوريا', zh: '大韩民国' },
      RU: {
        en: 'Russian Federation',
        fr: 'Fédération de Russie',
        es: 'Federación de Rusia',
        ru: 'Российская Федерация',
        ar: 'الاتحاد الروسي',
        zh: '俄罗斯联邦',
      },
      VN: { en: 'Viet Nam', fr: 'Viet Nam', es: 'Viet Nam', zh: '越南' },
      SY: { en: 'Syrian Arab Republic', fr: 'République arabe syrienne', es: 'República Árabe Siria', ru: 'Сирийская Арабская Республика' },
      IR: { en: 'Iran (Islamic Republic of)', fr: "Iran (République islamique d')", es: 'Irán (República Islámica del)', zh: '伊朗（伊斯兰共和国）' },
      BO: { en: 'Bolivia (Plurinational State of)', fr: 'Bolivie (État plurinational de)', es: 'Bolivia (Estado Plurinacional de)' },
      TZ: { en: 'United Republic of Tanzania', fr: 'République-Unie de Tanzanie', es: 'República Unida de Tanzanía' },
      LA: { en: "Lao People's Democratic Republic", fr: 'République démocratique populaire lao', zh: '老挝人民民主共和国' },
      MD: { en: 'Republic of Moldova', fr: 'République de Moldova', ru: 'Республика Молдова' },
      VE: { en: 'Venezuela (Bolivarian Republic of)', es: 'Venezuela (República Bolivariana de)' },
      FM: { en: 'Micronesia (Federated States of)', fr: 'Micronésie (États fédérés de)' },
      GB: {
        en: 'United Kingdom of Great Britain and Northern Ireland',
        fr: "Royaume-Uni de Grande-Bretagne et d'Irlande du Nord",
        zh: '大不列颠及北爱尔兰联合王国',
      },
      US: { en: 'United States of America', fr: "États-Unis d'Amérique", es: 'Estados Unidos de América', zh: '美利坚合众国' },
      TR: { en: 'Türkiye', fr: 'Türkiye', es: 'Türkiye' },
      CZ: { en: 'Czechia', fr: 'Tchéquie', es: 'Chequia' },
      CI: { en: "Côte d'Ivoire", fr: "Côte d'Ivoire", es: "Côte d'Ivoire" },
      NL: { en: 'Netherlands (Kingdom of the)', fr: 'Pays-Bas (Royaume des)' },
      CV: { en: 'Cabo Verde', fr: 'Cabo Verde', es: 'Cabo Verde' },
      SZ: { en: 'Eswatini' },
      MK: { en: 'North Macedonia', fr: 'Macédoine du Nord' },
      TL: { en: 'Timor-Leste', fr: 'Timor-Leste', es: 'Timor-Leste' },
      BN: { en: 'Brunei Darussalam', fr: 'Brunéi Darussalam' },
      VA: { en: 'Holy See', fr: 'Saint-Siège', es: 'Santa Sede', zh: '教廷' },
      PS: { en: 'State of Palestine', fr: 'État de Palestine', es: 'Estado de Palestina', zh: '巴勒斯坦国' },
    };
    for (const [code, names] of Object.entries(expected)) {
      it(`names ${code} as the UN does: ${names.en}`, () => {
        for (const [lang, name] of Object.entries(names)) expect(countryName(code, lang), `${code} ${lang}`).to.equal(name);
      });
    }

    it('reads codes in any case, falls back to English outside the six languages, and gives nothing for nothing', () => {
      expect(countryName('cn', 'zh')).to.equal('中国');
      expect(countryName('KP', 'fr-CH')).to.equal('République populaire démocratique de Corée');
      expect(countryName('KP', 'pt')).to.equal("Democratic People's Republic of Korea");
      expect(countryName('', 'en')).to.equal('');
    });

    it('names territories and areas that are not States by CLDR (Intl.DisplayNames) in the reader language', () => {
      for (const lang of UN_LANGUAGES) {
        const cldr = new Intl.DisplayNames([lang], { type: 'region' });
        for (const code of ['HK', 'PR', 'GL', 'NC', 'XK']) expect(countryName(code, lang), `${code} ${lang}`).to.equal(cldr.of(code));
      }
    });

    it('keeps the names Taiwan and the Falkland Islands (Malvinas) had, as CLDR does not follow UN usage for them', () => {
      expect(countryName('TW', 'en')).to.equal('Taiwan, Province of China');
      expect(countryName('TW', 'zh')).to.equal('中国台湾省');
      expect(countryName('FK', 'en')).to.equal('Falkland Islands (Malvinas)');
    });
  });

  describe('countryOptions: the select list, in the UN order of each language', () => {
    it('offers what the select offered before: every country, territory and area i18n-iso-countries knows, once', () => {
      const before = Object.keys(countries.getAlpha2Codes()).sort();
      for (const lang of UN_LANGUAGES) {
        const codes = countryOptions(lang).map((o) => o.code);
        expect([...codes].sort(), lang).to.deep.equal(before);
      }
    });

    it('lists the 195 States first, then the other territories and areas', () => {
      for (const lang of UN_LANGUAGES) {
        const options = countryOptions(lang);
        expect(
          options
            .slice(0, 195)
            .map((o) => o.code)
            .sort(),
          lang,
        ).to.deep.equal([...unCodes].sort());
        expect(options.slice(0, 195).every((o) => o.kind === 'state')).to.equal(true);
        expect(options.slice(195).every((o) => o.kind === 'territory')).to.equal(true);
      }
    });

    it('sorts each part by name with the Intl.Collator of the reader language', () => {
      for (const lang of UN_LANGUAGES) {
        const collator = new Intl.Collator(lang);
        const options = countryOptions(lang);
        for (const part of [options.slice(0, 195), options.slice(195)]) {
          const names = part.map((o) => o.name);
          expect(names, lang).to.deep.equal([...names].sort(collator.compare));
        }
        for (const o of options) expect(o.name, `${o.code} ${lang}`).to.equal(countryName(o.code, lang));
      }
    });

    it('files China under C and the two Koreas under D and R in English', () => {
      const names = countryOptions('en')
        .slice(0, 195)
        .map((o) => o.name);
      const at = (name: string) => names.indexOf(name);
      expect(at('Chile')).to.be.below(at('China'));
      expect(at('China')).to.be.below(at('Colombia'));
      expect(at('Czechia')).to.be.below(at("Democratic People's Republic of Korea"));
      expect(at("Democratic People's Republic of Korea")).to.be.below(at('Democratic Republic of the Congo'));
      expect(at('Qatar')).to.be.below(at('Republic of Korea'));
      expect(at('Republic of Korea')).to.be.below(at('Republic of Moldova'));
      expect(at('Tunisia')).to.be.below(at('Türkiye'));
      expect(at('Türkiye')).to.be.below(at('Turkmenistan'));
      expect(names).to.not.include("People's Republic of China");
      expect(names[0]).to.equal('Afghanistan');
      expect(names.at(-1)).to.equal('Zimbabwe');
    });

    it('offers 中国 in Chinese, and each State by its UN name in every language', () => {
      expect(byName('zh').get('中国')).to.equal('CN');
      expect(byName('zh').get('朝鲜民主主义人民共和国')).to.equal('KP');
      for (const lang of UN_LANGUAGES) {
        const names = byName(lang);
        for (const code of unCodes) expect(names.get(list.names[code]![lang]!), `${code} ${lang}`).to.equal(code);
      }
    });

    it('gives every caller its own array', () => {
      const a = countryOptions('en');
      a.length = 0;
      expect(countryOptions('en')).to.have.length(Object.keys(countries.getAlpha2Codes()).length);
    });
  });

  describe('parseCountry: the names people type', () => {
    it('reads every UN name in every language, and the aliases', () => {
      for (const code of unCodes) for (const lang of UN_LANGUAGES) expect(parseCountry(list.names[code]![lang]!), `${code} ${lang}`).to.equal(code);
      for (const [code, names] of Object.entries(list.aliases)) for (const name of names) expect(parseCountry(name), name).to.equal(code);
    });

    it('reads the old CLDR and i18n-iso-countries names as aliases', () => {
      const typed: Record<string, string> = {
        'North Korea': 'KP',
        'South Korea': 'KR',
        Russia: 'RU',
        Vietnam: 'VN',
        Syria: 'SY',
        Iran: 'IR',
        Bolivia: 'BO',
        Tanzania: 'TZ',
        Laos: 'LA',
        Moldova: 'MD',
        Venezuela: 'VE',
        Micronesia: 'FM',
        Turkey: 'TR',
        'Czech Republic': 'CZ',
        'Ivory Coast': 'CI',
        'Cape Verde': 'CV',
        Swaziland: 'SZ',
        "People's Republic of China": 'CN',
        'United Kingdom': 'GB',
        UK: 'GB',
        'United States': 'US',
        'Corée du Nord': 'KP',
        Russie: 'RU',
        'Corea del Sur': 'KR',
        Россия: 'RU',
        Вьетнам: 'VN',
        КНДР: 'KP',
        'كوريا الشمالية': 'KP',
        朝鲜: 'KP',
        'Hong Kong': 'HK',
        Congo: 'CG',
      };
      for (const [name, code] of Object.entries(typed)) expect(parseCountry(name), name).to.equal(code);
    });

    it('reads codes and names whatever their case, accents, apostrophes or dashes', () => {
      expect(parseCountry('kp')).to.equal('KP');
      expect(parseCountry(' PRK ')).to.equal('KP');
      expect(parseCountry('cote d’ivoire')).to.equal('CI');
      expect(parseCountry('VIET NAM')).to.equal('VN');
      expect(parseCountry('Turkiye')).to.equal('TR');
      expect(parseCountry('Guinea Bissau')).to.equal('GW');
      expect(parseCountry('Объединённые Арабские Эмираты')).to.equal('AE');
      expect(parseCountry('Папуа-Новая Гвинея')).to.equal('PG');
      expect(parseCountry('ايران (جمهورية - الإسلامية)')).to.equal('IR');
      expect(parseCountry('伊朗(伊斯兰共和国)')).to.equal('IR');
    });

    it('reads every territory by the name the select shows it under', () => {
      for (const lang of UN_LANGUAGES) for (const o of countryOptions(lang)) expect(parseCountry(o.name), `${o.code} ${lang}: ${o.name}`).to.equal(o.code);
    });

    it('reads no country from what is not one, or is two', () => {
      for (const text of ['', '  ', 'Narnia', 'Korea', "'''", 'XX', 'ZZZ', '__proto__', 'constructor']) expect(parseCountry(text), text).to.equal(null);
    });
  });
});
