import { Script } from 'node:vm';
import { OPS_CONSOLE_CSS, OPS_CONSOLE_HTML } from './ops-console.html';
import { OPS_CONSOLE_JS } from './ops-console.script';

describe('the ops console assets', () => {
  it('parses as JavaScript (the script is a string: nothing else compiles it)', () => {
    expect(() => new Script(OPS_CONSOLE_JS, { filename: 'console.js' })).not.toThrow();
  });

  it('loads nothing from another origin', () => {
    for (const asset of [OPS_CONSOLE_HTML, OPS_CONSOLE_CSS, OPS_CONSOLE_JS])
      expect(asset).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\/|@import|url\(\s*["']?(https?:)?\/\//);
  });
});
