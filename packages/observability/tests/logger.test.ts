import { Redactor, colorEnabled, createLogger, parseLogLevel } from '../src';
import { Capture } from './helpers/capture';

describe('createLogger', () => {
  it('writes JSON lines with level, time, message and bound fields', () => {
    const out = new Capture();
    const logger = createLogger({ destination: out, format: 'json', level: 'info' });
    logger.child({ run_id: 'R1', service: 'svc' }).info('run started', { attempt: 1 });
    logger.debug('not shown');
    const [line, ...rest] = out.lines();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 30, msg: 'run started', run_id: 'R1', service: 'svc', attempt: 1 });
    expect(typeof line!.time).toBe('string');
  });

  it('redacts secrets from messages, fields and bindings', () => {
    const out = new Capture();
    const redactor = new Redactor({ PERSPECTIVE_API_KEY: 'marker-secret-42' });
    const logger = createLogger({ destination: out, format: 'json', redactor }).child({ token: 'bound-secret' });
    logger.warn('request to ?key=marker-secret-42 failed', { password: 'pw', url: 'x?key=marker-secret-42' });
    expect(out.text).not.toContain('marker-secret-42');
    expect(out.text).not.toContain('bound-secret');
    expect(out.lines()[0]).toMatchObject({ token: '[REDACTED]', password: '[REDACTED]', url: 'x?key=[REDACTED]' });
  });

  it('prints short human lines in pretty format', () => {
    const out = new Capture();
    createLogger({ destination: out, format: 'pretty' }).info('hello', { n: 2 });
    expect(out.text).toMatch(/^\d\d:\d\d:\d\d INFO {2}hello {2}n=2\n$/);
  });

  it('reads LOG_LEVEL and names the accepted values when it is wrong', () => {
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(() => parseLogLevel('loud')).toThrow(
      'is invalid: expected one of trace, debug, info, warn, error, fatal, silent',
    );
  });

  it('colours the human format on a terminal, honouring NO_COLOR and FORCE_COLOR', () => {
    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({}, false)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, true)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, false)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
  });
});
