// A QR code encoder (ISO/IEC 18004: byte mode, error correction level M, versions 1–20, up to 666 bytes —
// enough for an otpauth:// URI) and its SVG rendering, for the TOTP enrollment response. Kept here until a
// maintained QR library joins the dependencies (none is installed yet); test/auth/qr.test.ts checks its tables
// against the symbol geometry.

// Level M per version (ISO/IEC 18004 table 9): n1 blocks of d1 data codewords, n2 blocks of d2, and the EC
// codewords per block. Versions 1–20: up to 666 bytes, more than an otpauth:// URI with a 255-character email and
// a long issuer needs.
const LEVEL_M: [number, number, number, number, number][] = [
  [1, 16, 0, 0, 10],
  [1, 28, 0, 0, 16],
  [1, 44, 0, 0, 26],
  [2, 32, 0, 0, 18],
  [2, 43, 0, 0, 24],
  [4, 27, 0, 0, 16],
  [4, 31, 0, 0, 18],
  [2, 38, 2, 39, 22],
  [3, 36, 2, 37, 22],
  [4, 43, 1, 44, 26],
  [1, 50, 4, 51, 30],
  [6, 36, 2, 37, 22],
  [8, 37, 1, 38, 22],
  [4, 40, 5, 41, 24],
  [5, 41, 5, 42, 24],
  [7, 45, 3, 46, 28],
  [10, 46, 1, 47, 28],
  [9, 43, 4, 44, 26],
  [3, 44, 11, 45, 26],
  [3, 41, 13, 42, 26],
];
const BLOCKS: [number[], number][] = LEVEL_M.map(([n1, d1, n2, d2, ec]) =>
  [[...new Array<number>(n1).fill(d1), ...new Array<number>(n2).fill(d2)], ec]);
const ALIGNMENT: number[][] = [[], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50],
  [6, 30, 54], [6, 32, 58], [6, 34, 62], [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78], [6, 30, 56, 82],
  [6, 30, 58, 86], [6, 34, 62, 90]];

function gfMul(x: number, y: number): number {
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z;
}

function rsGenerator(degree: number): number[] {
  const g = new Array<number>(degree).fill(0);
  g[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      g[j] = gfMul(g[j], root);
      if (j + 1 < degree) g[j] ^= g[j + 1];
    }
    root = gfMul(root, 2);
  }
  return g;
}

function rsRemainder(data: number[], gen: number[]): number[] {
  const r = new Array<number>(gen.length).fill(0);
  for (const b of data) {
    const factor = b ^ r.shift()!;
    r.push(0);
    for (let i = 0; i < gen.length; i++) r[i] ^= gfMul(gen[i], factor);
  }
  return r;
}

/** Data and error-correction codewords, interleaved, for `bytes` at `version` (1-based). */
function codewords(bytes: Uint8Array, version: number): number[] {
  const [blocks, ecLen] = BLOCKS[version - 1];
  const capacity = blocks.reduce((a, b) => a + b, 0);
  const bits: number[] = [];
  const put = (value: number, n: number) => { for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1); };
  put(0b0100, 4);
  put(bytes.length, version < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  put(0, Math.min(4, capacity * 8 - bits.length));
  while (bits.length % 8) bits.push(0);
  const data: number[] = [];
  for (let i = 0; i < bits.length; i += 8) data.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  for (let pad = 0xec; data.length < capacity; pad ^= 0xec ^ 0x11) data.push(pad);

  const gen = rsGenerator(ecLen);
  const dataBlocks: number[][] = [];
  const ecBlocks: number[][] = [];
  let at = 0;
  for (const len of blocks) {
    const block = data.slice(at, at + len);
    at += len;
    dataBlocks.push(block);
    ecBlocks.push(rsRemainder(block, gen));
  }
  const out: number[] = [];
  for (let i = 0; i < Math.max(...blocks); i++) for (const b of dataBlocks) if (i < b.length) out.push(b[i]);
  for (let i = 0; i < ecLen; i++) for (const b of ecBlocks) out.push(b[i]);
  return out;
}

class QrSymbol {
  readonly version: number;
  readonly size: number;
  readonly dark: boolean[][];
  readonly fixed: boolean[][];
  constructor(version: number) {
    this.version = version;
    this.size = version * 4 + 17;
    this.dark = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
    this.fixed = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
  }
  set(x: number, y: number, dark: boolean) { this.dark[y][x] = dark; this.fixed[y][x] = true; }

  drawFunctionPatterns() {
    const n = this.size;
    for (let i = 0; i < n; i++) { this.set(6, i, i % 2 === 0); this.set(i, 6, i % 2 === 0); }
    for (const [cx, cy] of [[3, 3], [n - 4, 3], [3, n - 4]]) {
      for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx, y = cy + dy;
        if (x < 0 || y < 0 || x >= n || y >= n) continue;
        const d = Math.max(Math.abs(dx), Math.abs(dy));
        this.set(x, y, d !== 2 && d !== 4);
      }
    }
    const pos = ALIGNMENT[this.version - 1];
    for (let i = 0; i < pos.length; i++) for (let j = 0; j < pos.length; j++) {
      if ((i === 0 && j === 0) || (i === 0 && j === pos.length - 1) || (i === pos.length - 1 && j === 0)) continue;
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) {
        this.set(pos[i] + dx, pos[j] + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }
    }
    this.drawFormat(0);
    if (this.version >= 7) {
      let rem = this.version;
      for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
      const bits = (this.version << 12) | rem;
      for (let i = 0; i < 18; i++) {
        const bit = ((bits >>> i) & 1) === 1;
        const a = n - 11 + (i % 3), b = Math.floor(i / 3);
        this.set(a, b, bit);
        this.set(b, a, bit);
      }
    }
  }

  /** Format information: level M (00) and the mask, BCH-protected, in its two copies. */
  drawFormat(mask: number) {
    const n = this.size;
    const data = (0b00 << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i: number) => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(n - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, n - 15 + i, bit(i));
    this.set(8, n - 8, true);
  }

  drawData(words: number[]) {
    const n = this.size;
    let i = 0;
    for (let right = n - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let vert = 0; vert < n; vert++) {
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          const y = ((right + 1) & 2) === 0 ? n - 1 - vert : vert;
          if (!this.fixed[y][x] && i < words.length * 8) {
            this.dark[y][x] = ((words[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
            i++;
          }
        }
      }
    }
  }

  applyMask(mask: number) {
    const test: ((x: number, y: number) => boolean)[] = [
      (x, y) => (x + y) % 2 === 0, (_x, y) => y % 2 === 0, (x) => x % 3 === 0, (x, y) => (x + y) % 3 === 0,
      (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0, (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
      (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0, (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
    ];
    for (let y = 0; y < this.size; y++) for (let x = 0; x < this.size; x++) {
      if (!this.fixed[y][x] && test[mask](x, y)) this.dark[y][x] = !this.dark[y][x];
    }
  }

  /** A simplified penalty (runs, 2×2 blocks, balance) to pick a mask that scans well. */
  penalty(): number {
    const n = this.size;
    let score = 0;
    for (let a = 0; a < n; a++) {
      for (const get of [(i: number) => this.dark[a][i], (i: number) => this.dark[i][a]]) {
        let run = 1;
        for (let i = 1; i <= n; i++) {
          if (i < n && get(i) === get(i - 1)) { run++; continue; }
          if (run >= 5) score += run - 2;
          run = 1;
        }
      }
    }
    for (let y = 0; y + 1 < n; y++) for (let x = 0; x + 1 < n; x++) {
      const c = this.dark[y][x];
      if (c === this.dark[y][x + 1] && c === this.dark[y + 1][x] && c === this.dark[y + 1][x + 1]) score += 3;
    }
    const darkCount = this.dark.reduce((a, row) => a + row.filter(Boolean).length, 0);
    score += Math.floor(Math.abs(darkCount * 20 - n * n * 10) / (n * n)) * 10;
    return score;
  }
}

export class QrTooLong extends Error {
  constructor() { super('text too long for a QR code of version 20'); }
}

/** How many modules of a symbol of `version` carry data (all but the function patterns): the codewords' bits
 *  plus the 0, 3, 4 or 7 remainder bits. A check of the tables above. */
export function dataModules(version: number): number {
  const s = new QrSymbol(version);
  s.drawFunctionPatterns();
  return s.fixed.reduce((a, row) => a + row.filter((f) => !f).length, 0);
}

/** Data plus EC codewords of `version` per the tables. */
export function totalCodewords(version: number): number {
  const [blocks, ec] = BLOCKS[version - 1];
  return blocks.reduce((a, b) => a + b + ec, 0);
}

/** The modules of a QR code for `text` (true = dark), without the quiet zone. */
export function qrMatrix(text: string): boolean[][] {
  const bytes = new TextEncoder().encode(text);
  const version = BLOCKS.findIndex(([blocks], v) =>
    4 + (v + 1 < 10 ? 8 : 16) + bytes.length * 8 <= blocks.reduce((a, b) => a + b, 0) * 8) + 1;
  if (version === 0) throw new QrTooLong();
  const words = codewords(bytes, version);
  let best: QrSymbol | undefined;
  let bestScore = Infinity;
  for (let mask = 0; mask < 8; mask++) {
    const s = new QrSymbol(version);
    s.drawFunctionPatterns();
    s.drawData(words);
    s.applyMask(mask);
    s.drawFormat(mask);
    const score = s.penalty();
    if (score < bestScore) { best = s; bestScore = score; }
  }
  return best!.dark;
}

/** The QR code as an SVG document, with the standard four-module quiet zone. */
export function qrSvg(text: string): string {
  const m = qrMatrix(text);
  const size = m.length + 8;
  let path = '';
  m.forEach((row, y) => row.forEach((dark, x) => { if (dark) path += `M${x + 4} ${y + 4}h1v1h-1z`; }));
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">` +
    `<rect width="${size}" height="${size}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
}
