/**
 * Certificate rendering benchmark.
 *
 *   npm run bench:certificates                 # 1,000 certificates per scenario
 *   npm run bench:certificates -- --smoke      # 20 per scenario (CI)
 *   npm run bench:certificates -- --n 200 --out results.json
 *   npm run bench:certificates -- --smoke --pdf-dir /tmp/pdfs   # also keeps each engine's first PDF
 *
 * For Latin, Arabic and Chinese names (bilingual certificates, two PNG logos with transparency, a
 * signature, a QR code), and for names in the other scripts the fonts cover, by family (Indic:
 * Devanagari, Bengali, Tamil, Sinhala; Southeast Asian: Thai, Khmer, Myanmar; Hebrew; Korean; and
 * Ethiopic, Georgian, Armenian) on an English and French certificate, each scenario runs in a fresh
 * process of its own so that peak memory is that scenario's: warm-up, then one certificate at a
 * time (median of 50, warm process), then N certificates in a row (total time, peak RSS, median
 * size). `--smoke` runs the first three scenarios only, `--only a,b` the ones named.
 *
 * The ceiling is measured in the same run, on the same machine: pdfkit alone printing the same
 * strings with `doc.text()` in its built-in Helvetica (no font embedding, no shaping, no bidi; the
 * Arabic and Chinese come out as garbage), with the same frame, logos and QR code. The ratio says
 * what our text pipeline (shaping, bidi, subset fonts) costs over pdfkit's floor.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { generateCode, verificationUrl } from '../plugins/certificates/code.ts';
import { renderCertificate, type CertificateData, type CertificateTemplate } from '../plugins/certificates/render/index.ts';
import { qrMatrix } from '../plugins/certificates/render/qr.ts';
import { flag as arg, median, printTable, writeResults } from './report.ts';

type Scenario = 'latin' | 'arabic' | 'chinese' | 'indic' | 'southeast-asian' | 'hebrew' | 'korean' | 'ethiopic-caucasian';
type Engine = 'olive' | 'ceiling';
const ALL_SCENARIOS: Scenario[] = ['latin', 'arabic', 'chinese', 'indic', 'southeast-asian', 'hebrew', 'korean', 'ethiopic-caucasian'];

const TARGETS = { singleMs: 20, batchS: 20, peakMb: 250, sizeKb: 60 };

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const SCENARIOS: Scenario[] = arg('--only') ? (arg('--only')!.split(',') as Scenario[]) : smoke ? ALL_SCENARIOS.slice(0, 3) : ALL_SCENARIOS;
const n = Number(arg('--n') ?? (smoke ? 20 : 1000));
const singles = smoke ? 10 : 50;

// ---------------------------------------------------------------------------------------------
// Inputs

const FIRST = {
  latin: ['Amina', 'José Ángel', 'Élodie', 'Grégoire', 'Ingrid', 'Kwame', 'Lucía', 'Mateus', 'Nadia', 'Søren'],
  arabic: ['محمد', 'فاطمة', 'عبد الله', 'ليلى', 'يوسف', 'نور', 'خالد', 'مريم', 'عمر', 'سلمى'],
  chinese: ['李', '王', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴'],
};
const LAST = {
  latin: ['Haddad', 'Muñoz Peña', 'Lefèvre', 'Østergaard', 'Mensah', 'Dubœuf', 'Nakamura', 'Okonkwo', 'Ferreira', 'Kowalski'],
  arabic: ['الراشد', 'بن علي', 'حداد', 'النجار', 'الخطيب', 'منصور', 'العمري', 'السيد', 'يونس', 'الحسيني'],
  chinese: ['明华', '晓东', '丽娟', '建国', '海燕', '志强', '雪梅', '伟', '静怡', '国庆'],
};
/**
 * Each scenario's names: per script, given names and family names (a certificate's name is in one
 * script). The UN-language scenarios have one script each; the others a family of scripts.
 */
const NAMES: Record<Scenario, Array<[first: string[], last: string[]]>> = {
  latin: [[FIRST.latin, LAST.latin]],
  arabic: [[FIRST.arabic, LAST.arabic]],
  chinese: [[FIRST.chinese, LAST.chinese]],
  indic: [
    [
      ['प्रिया', 'अर्जुन', 'श्रेया', 'विक्रम', 'क्षितिज'],
      ['शर्मा', 'त्रिपाठी', 'द्विवेदी', 'कृष्णमूर्ति', 'श्रीवास्तव'],
    ],
    [
      ['সৌমিত্র', 'অর্পিতা', 'ঋত্বিক', 'শ্রাবন্তী', 'দীপ্তি'],
      ['চট্টোপাধ্যায়', 'বন্দ্যোপাধ্যায়', 'মুখোপাধ্যায়', 'সেনগুপ্ত', 'ভট্টাচার্য'],
    ],
    [
      ['கார்த்திகேயன்', 'பிரியா', 'செல்வி', 'ஸ்ரீநிவாசன்', 'கௌதம்'],
      ['சுப்பிரமணியம்', 'ராமச்சந்திரன்', 'கிருஷ்ணன்', 'வேங்கடேசன்', 'பாலசுப்ரமணியம்'],
    ],
    [
      ['ප්‍රියන්ත', 'නිමල්', 'චමින්ද', 'ශ්‍රියානි', 'දිල්රුක්ෂි'],
      ['පෙරේරා', 'ජයසූරිය', 'වික්‍රමසිංහ', 'බණ්ඩාර', 'රාජපක්ෂ'],
    ],
  ],
  'southeast-asian': [
    [
      ['สมศักดิ์', 'สุดารัตน์', 'ประยุทธ์', 'กิตติศักดิ์', 'ณัฐวุฒิ'],
      ['รุ่งเรืองกิจ', 'ศรีสุข', 'วงศ์สวัสดิ์', 'ทองคำ', 'เจริญผล'],
    ],
    [
      ['សុខ', 'ចន្ទ្រា', 'វិសាល', 'ស្រីពេជ្រ', 'សម្បត្តិ'],
      ['ស្រីពេជ្រ', 'ហេង', 'ឈឹម', 'គង់', 'ព្រហ្ម'],
    ],
    [
      ['အောင်', 'သန္တာ', 'ကျော်', 'နှင်းဆီ', 'မြင့်'],
      ['ဆန်းစုကြည်', 'ထွန်း', 'ဝင်း', 'မြတ်', 'ကြည်'],
    ],
  ],
  hebrew: [
    [
      ['נועה', 'יוסף', 'מיכל', 'אברהם', 'שירה'],
      ['לוי', 'כהן', 'מזרחי', 'פרידמן', 'אשכנזי'],
    ],
  ],
  korean: [
    [
      ['김', '이', '박', '최', '정'],
      ['민준', '서연', '지훈', '하은', '도윤'],
    ],
  ],
  'ethiopic-caucasian': [
    [
      ['አበበ', 'ታደሰ', 'መሰረት', 'ሰላም', 'ኃይሌ'],
      ['ቢቂላ', 'ገብረሥላሴ', 'ደፋር', 'ተስፋዬ', 'ወልደ'],
    ],
    [
      ['ნინო', 'გიორგი', 'თამარ', 'ლევან', 'ქეთევან'],
      ['ბერიძე', 'კაპანაძე', 'ჯავახიშვილი', 'წერეთელი', 'ღლონტი'],
    ],
    [
      ['Արամ', 'Անահիտ', 'Տիգրան', 'Լուսինե', 'Գևորգ'],
      ['Խաչատրյան', 'Հովհաննիսյան', 'Պետրոսյան', 'Սարգսյան', 'Ղազարյան'],
    ],
  ],
};

/** Scenarios whose names are written without a space between family and given name. */
const UNSPACED = new Set<Scenario>(['chinese', 'korean']);

/**
 * A different name for every certificate (so nothing is served from a cache of the same name): the
 * scripts in turn, then every given name with every family name, then a number.
 */
function nameFor(s: Scenario, i: number): string {
  const scripts = NAMES[s];
  const [first, last] = scripts[i % scripts.length]!;
  const k = Math.floor(i / scripts.length);
  const f = first[k % first.length]!;
  const l = last[Math.floor(k / first.length) % last.length]!;
  const name = UNSPACED.has(s) ? f + l : `${f} ${l}`;
  return i >= 100 ? `${name} ${i}` : name;
}

const en = {
  lang: 'en',
  title: 'Certificate of Completion',
  wording: 'This is to certify that\n{name}\nhas successfully completed\n{course}\n{edition}, {place}, from {startDate} to {endDate}, {hours} hours',
  codeLabel: 'Verification code',
};
const SECOND = {
  latin: {
    lang: 'fr',
    title: 'Certificat de réussite',
    wording: 'Nous certifions que\n{name}\na suivi avec succès\n{course}\n{edition}, {place}, du {startDate} au {endDate}, {hours} heures',
  },
  arabic: {
    lang: 'ar',
    title: 'شهادة إتمام',
    wording: 'نشهد بأن\n{name}\nقد أتم بنجاح\n{course}\n{edition}، {place}، من {startDate} إلى {endDate}، {hours} ساعة',
  },
  chinese: { lang: 'zh', title: '结业证书', wording: '兹证明\n{name}\n已圆满完成\n{course}\n{edition}，{place}，{startDate}至{endDate}，共{hours}小时' },
};
/** The second language of a scenario's certificate: the wording's script for the UN languages, French for names in other scripts. */
const secondLanguage = (s: Scenario) => (s === 'latin' || s === 'arabic' || s === 'chinese' ? SECOND[s] : SECOND.latin);

async function inputs(s: Scenario) {
  const logo = await QRCode.toBuffer('Olive programme logo for the benchmark', { margin: 1, scale: 4, color: { dark: '#1f3a5fff', light: '#00000000' } });
  const partner = await QRCode.toBuffer('Partner logo', { margin: 1, scale: 4, color: { dark: '#b08d3cff', light: '#00000000' } });
  const signature = await QRCode.toBuffer('signature', { margin: 0, scale: 2, color: { dark: '#000000ff', light: '#00000000' } });
  const template: CertificateTemplate = {
    languages: [en, secondLanguage(s)],
    logos: { programme: logo, partners: [partner] },
    signatories: [
      { name: 'Nikhil Seth', title: { en: 'Executive Director', fr: 'Directeur exécutif', ar: 'المدير التنفيذي', zh: '执行主任' }, signature },
      { name: 'Marie Dupont', title: { en: 'Programme Director', fr: 'Directrice du programme', ar: 'مديرة البرنامج', zh: '项目主任' } },
    ],
  };
  const base = {
    course: { en: 'Negotiation and Mediation', fr: 'Négociation et médiation', ar: 'التفاوض والوساطة', zh: '谈判与调解' },
    edition: { en: 'Fellowship 2027', fr: 'Bourse 2027', ar: 'زمالة ٢٠٢٧', zh: '2027年研修班' },
    place: { en: 'Oslo', fr: 'Oslo', ar: 'أوسلو', zh: '奥斯陆' },
    startDate: '2027-06-07',
    endDate: '2027-06-18',
    hours: 60,
    issueDate: '2027-06-18',
  };
  const data = (i: number): CertificateData => {
    const code = generateCode();
    return { ...base, name: nameFor(s, i), code, verificationUrl: verificationUrl('https://olive.example', code) };
  };
  return { template, data, images: { logo, partner, signature } };
}

/** The ceiling: the same strings, frame, images and QR code with pdfkit's own text() and Helvetica. */
async function renderCeiling(template: CertificateTemplate, d: CertificateData, images: { logo: Buffer; partner: Buffer; signature: Buffer }): Promise<Buffer> {
  const doc = new PDFDocument({ size: 'A4', layout: 'landscape', margin: 0, info: { CreationDate: new Date(Date.UTC(2027, 5, 18)) } });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => doc.on('end', r));
  const W = 841.89,
    H = 595.28;
  doc
    .lineWidth(2.2)
    .strokeColor('#1f3a5f')
    .rect(24, 24, W - 48, H - 48)
    .stroke();
  doc
    .lineWidth(0.7)
    .strokeColor('#b08d3c')
    .rect(30, 30, W - 60, H - 60)
    .stroke();
  doc.image(images.logo, 330, 44, { height: 52 });
  doc.image(images.partner, 450, 44, { height: 52 });
  let y = 120;
  for (const l of template.languages) {
    const lang = l.lang as 'en';
    const fill = (t: string) =>
      t
        .replace('{name}', d.name)
        .replace('{course}', (d.course as Record<string, string>)[lang] ?? '')
        .replace('{edition}', (d.edition as Record<string, string>)[lang] ?? '')
        .replace('{place}', (d.place as Record<string, string>)[lang] ?? '')
        .replace('{startDate}', '7 June 2027')
        .replace('{endDate}', '18 June 2027')
        .replace('{hours}', '60');
    doc
      .font('Helvetica-Bold')
      .fontSize(lang === 'en' ? 30 : 17)
      .fillColor('#1f3a5f')
      .text(fill(l.title), 64, y, { width: W - 128, align: 'center' });
    y = doc.y + 6;
    for (const line of l.wording.split('\n')) {
      const big = line === '{name}';
      doc
        .font(big ? 'Helvetica-Bold' : 'Helvetica')
        .fontSize(big ? 26 : 11)
        .fillColor('#222222')
        .text(fill(line), 64, y, { width: W - 128, align: 'center' });
      y = doc.y + 2;
    }
  }
  doc.image(images.signature, 200, H - 120, { height: 36 });
  for (const [i, s] of template.signatories.entries()) {
    doc
      .font('Helvetica-Bold')
      .fontSize(10.5)
      .text(s.name, 120 + i * 220, H - 80, { width: 200, align: 'center' });
    doc
      .font('Helvetica')
      .fontSize(8.5)
      .text(
        Object.values(s.title as Record<string, string>)
          .slice(0, 2)
          .join(' / '),
        120 + i * 220,
        doc.y,
        { width: 200, align: 'center' },
      );
  }
  const m = qrMatrix(d.verificationUrl);
  const size = 70 / m.length;
  m.forEach((row, r) =>
    row.forEach((dark, c) => {
      if (dark) doc.rect(W - 126 + c * size, H - 150 + r * size, size, size);
    }),
  );
  doc.fill('#222222');
  doc
    .font('Helvetica-Bold')
    .fontSize(8.5)
    .text(d.code, W - 160, H - 72, { width: 140, align: 'center' });
  doc.end();
  await ended;
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------------
// One scenario, in a child process

interface Measured {
  scenario: Scenario;
  engine: Engine;
  n: number;
  firstMs: number;
  singleMedianMs: number;
  batchSeconds: number;
  peakRssMb: number;
  sizeMedianKb: number;
  sizeMaxKb: number;
  /** With --pdf-dir: the first certificate's file and the name printed on it, to read back. */
  sample?: { name: string; pdf: string } | undefined;
}

async function child(s: Scenario, engine: Engine): Promise<Measured> {
  const { template, data, images } = await inputs(s);
  const render = engine === 'olive' ? (d: CertificateData) => renderCertificate(template, d) : (d: CertificateData) => renderCeiling(template, d, images);
  let t = performance.now();
  const first = await render(data(0));
  const firstMs = performance.now() - t;
  const pdfDir = arg('--pdf-dir');
  const sample = pdfDir ? { name: data(0).name, pdf: path.join(pdfDir, `${s}-${engine}.pdf`) } : undefined;
  if (sample) fs.writeFileSync(sample.pdf, first);
  for (let i = 1; i <= 10; i++) await render(data(i));
  const times: number[] = [];
  for (let i = 0; i < singles; i++) {
    const d = data(1000 + i);
    t = performance.now();
    await render(d);
    times.push(performance.now() - t);
  }
  const sizes: number[] = [];
  t = performance.now();
  for (let i = 0; i < n; i++) sizes.push((await render(data(i))).length);
  const batchSeconds = (performance.now() - t) / 1000;
  return {
    scenario: s,
    engine,
    n,
    firstMs,
    singleMedianMs: median(times),
    batchSeconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    sizeMedianKb: median(sizes) / 1024,
    sizeMaxKb: Math.max(...sizes) / 1024,
    sample,
  };
}

// ---------------------------------------------------------------------------------------------
// Main: one child per scenario and engine, then the table

async function main() {
  const childScenario = arg('--child');
  if (childScenario) {
    const result = await child(childScenario as Scenario, (arg('--engine') ?? 'olive') as Engine);
    process.stdout.write(JSON.stringify(result));
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const results: Measured[] = [];
  for (const s of SCENARIOS) {
    for (const engine of ['olive', 'ceiling'] as Engine[]) {
      process.stderr.write(`${s} ${engine}: ${n} certificates…\n`);
      const pdfDir = arg('--pdf-dir');
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', self, '--child', s, '--engine', engine, '--n', String(n), ...(smoke ? ['--smoke'] : []), ...(pdfDir ? ['--pdf-dir', pdfDir] : [])],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      results.push(JSON.parse(out) as Measured);
    }
  }

  const rows: string[][] = [['scenario', 'measure', 'olive', 'ceiling', 'ratio', 'target', 'ok']];
  const f = (x: number, d = 1) => x.toFixed(d);
  for (const s of SCENARIOS) {
    const o = results.find((r) => r.scenario === s && r.engine === 'olive')!;
    const c = results.find((r) => r.scenario === s && r.engine === 'ceiling')!;
    const row = (measure: string, a: number, b: number, target: number | null, digits = 1) =>
      rows.push([
        s,
        measure,
        f(a, digits),
        f(b, digits),
        `${f(a / b, 2)}×`,
        target === null ? '' : `< ${target}`,
        target === null ? '' : a < target ? 'yes' : 'NO',
      ]);
    row('first certificate (cold), ms', o.firstMs, c.firstMs, null);
    row('one certificate (warm, median), ms', o.singleMedianMs, c.singleMedianMs, TARGETS.singleMs);
    row(`${n} certificates, s`, o.batchSeconds, c.batchSeconds, n === 1000 ? TARGETS.batchS : null, 2);
    row(`peak RSS over ${n}, MB`, o.peakRssMb, c.peakRssMb, TARGETS.peakMb, 0);
    row('PDF size (median), KB', o.sizeMedianKb, c.sizeMedianKb, TARGETS.sizeKb);
    row('PDF size (largest), KB', o.sizeMaxKb, c.sizeMaxKb, TARGETS.sizeKb);
  }
  printTable(rows);
  const out = writeResults('certificates', { n, targets: TARGETS, results }, arg('--out'));
  console.log(`\nresults: ${out}`);
  const failed = rows.slice(1).filter((r) => r[6] === 'NO');
  if (failed.length && !smoke) process.exitCode = 1;
}

await main();
