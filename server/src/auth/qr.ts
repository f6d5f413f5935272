// The QR code of a TOTP enrolment (its otpauth:// URI), from the maintained `qrcode` package: byte mode, error
// correction level M, as an SVG string in the enrolment response.
import QRCode from 'qrcode';

/** The text does not fit in any QR code version at level M. */
export class QrTooLong extends Error {
  constructor() { super('the text is too long for a QR code'); }
}

const OPTIONS = { errorCorrectionLevel: 'M' } as const;

function symbol(text: string): QRCode.QRCode {
  try {
    return QRCode.create(text, OPTIONS);
  } catch (err) {
    if (/too big|too long|amount of data/i.test(String((err as Error)?.message))) throw new QrTooLong();
    throw err;
  }
}

/** The symbol's modules, row by row (true = dark); it throws QrTooLong for text no version can hold. */
export function qrMatrix(text: string): boolean[][] {
  const { modules } = symbol(text);
  return Array.from({ length: modules.size }, (_, y) => Array.from({ length: modules.size }, (_, x) => Boolean(modules.get(y, x))));
}

/** The QR code as SVG; it throws QrTooLong for text no version can hold. */
export async function qrSvg(text: string): Promise<string> {
  symbol(text);
  return (await QRCode.toString(text, { ...OPTIONS, type: 'svg', margin: 4 })).trim();
}
