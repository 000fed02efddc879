import { Writable } from 'node:stream';

/** A writable that keeps what is written (log capture). */
export class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void) {
    this.text += chunk.toString('utf8');
    done();
  }
  /** The JSON lines written so far. */
  lines(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }
}
