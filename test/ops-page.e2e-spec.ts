import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { publishAll, sandboxUsage, seedOrg } from './metering-harness';
import { appUrl, startApp } from './apps';

const CHROMIUM = '/usr/bin/chromium';

/** Decodes a PNG in the browser and counts pixels of the chart colours (plain JS, runs in the page). */
const PIXEL_CHECK = String.raw`async ({ data, chart, usage, centres }) => {
        const img = new Image();
        img.src = 'data:image/png;base64,' + data;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.width;
        canvas.height = img.height;
        const g = canvas.getContext('2d');
        g.drawImage(img, 0, 0);
        const near = (x, y, rgb) => {
          const [r, gg, b] = g.getImageData(x, y, 1, 1).data;
          return Math.abs(r - rgb[0]) + Math.abs(gg - rgb[1]) + Math.abs(b - rgb[2]) < 60;
        };
        const count = (box, rgb) => {
          const d = g.getImageData(
            Math.round(box.x),
            Math.round(box.y),
            Math.round(box.width),
            Math.round(box.height),
          ).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4)
            if (Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 60) n++;
          return n;
        };
        const blue = [0x09, 0x69, 0xda];
        const green = [0x1a, 0x7f, 0x37];
        return {
          size: [img.width, img.height],
          lineInChart: count(chart, blue),
          barsInUsage: count(usage, green),
          blueOutsideCharts: count({ x: 0, y: 0, width: img.width, height: Math.round(chart.y) }, blue),
          pointsDrawn: centres.filter((c) => near(c.x, c.y, blue)).length,
        };
      }`;
const DAY = 86_400_000;

/**
 * Debian's chromium, installed on first use when we may (root with apt-get), so a fresh CI
 * machine runs this test without a manual step.
 */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as root)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
}

/**
 * The ops page in headless Chromium for a seeded organization: the burn-down and usage charts are
 * drawn with a point per day of usage, and the screenshot is checked: the chart's line colour is
 * at every data point and covers the chart area, the bars are there, and the alert is listed.
 */
describe('ops page in headless Chromium', () => {
  jest.setTimeout(180_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let browser: Browser;
  let page: Page;
  let url: string;
  let orgId: string;
  const hoursPerDay = [2, 5, 3, 8, 1, 6, 4, 7, 2, 9]; // 47 h of 100 over ten days: the 50% alert does not fire yet

  beforeAll(async () => {
    ensureChromium();
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    app = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0', NOTIFIER: 'false' }));
    url = appUrl(app);
    orgId = await seedOrg(db, { sandboxMs: 100n * 3_600_000n, agentMc: 0n });
    // One sandbox runtime report per day for the last ten days (shape small: 1 sandbox hour per hour),
    // and a last one today that crosses 50%.
    const producer = createKafka('ops-page-test', [ctx.kafkaBrokers]).producer();
    await producer.connect();
    const today = Math.floor(Date.now() / DAY) * DAY;
    const events = hoursPerDay.map((hours, i) => {
      const event = sandboxUsage(
        ctx.topicPrefix,
        orgId,
        `sbx-${i}`,
        'sandbox.stopped',
        hours * 3_600_000,
        1,
        'small',
        `day-${i}`,
      );
      (event.value as { time: string }).time = new Date(today - (10 - i) * DAY + 12 * 3_600_000).toISOString();
      return event;
    });
    events.push(
      sandboxUsage(ctx.topicPrefix, orgId, 'sbx-today', 'sandbox.stopped', 5 * 3_600_000, 1, 'small', 'today'),
    );
    await publishAll(producer, events);
    await producer.disconnect();
    await expectEventually(
      async () =>
        expect(
          (await db.query(`SELECT 1 FROM balance_alerts WHERE org_id = $1 AND threshold = '50'`, [orgId])).length,
        ).toBe(1),
      30_000,
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1000, height: 1100 }, deviceScaleFactor: 1 });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  it('draws the balance burn-down, usage by day and recent alerts; the screenshot shows them', async () => {
    await page.goto(`${url}/ops?org=${orgId}&token=test-service-token&days=14`);
    await page.waitForSelector('body[data-rendered]');
    expect(await page.getAttribute('body', 'data-rendered')).toBe('true');
    expect(await page.textContent('#error')).toBe('');

    // A point per day with usage (eleven days), remaining balance non-increasing toward today.
    const points = await page.$$eval('#burndown circle.point', (nodes) =>
      nodes.map((n) => ({ day: n.getAttribute('data-day'), remaining: Number(n.getAttribute('data-remaining')) })),
    );
    expect(points).toHaveLength(hoursPerDay.length + 1);
    for (let i = 1; i < points.length; i++) expect(points[i].remaining).toBeLessThanOrEqual(points[i - 1].remaining);
    expect(points[points.length - 1].remaining).toBe(100 - 47 - 5);
    const bars = await page.$$eval('#usage rect.bar', (nodes) =>
      nodes.map((n) => Number(n.getAttribute('data-value'))),
    );
    expect(bars).toEqual([...hoursPerDay, 5]);
    expect(await page.textContent('#alerts')).toContain('balance.threshold sandbox 50%');
    expect(await page.textContent('#balances')).toContain('100');

    const png = await page.screenshot({ fullPage: true });
    mkdirSync(join(__dirname, '..', '.tally'), { recursive: true });
    writeFileSync(join(__dirname, '..', '.tally', 'ops-page.png'), png);

    // Read the screenshot's pixels back (decoded by Chromium itself, in a blank page).
    const chart = (await page.locator('#burndown').boundingBox())!;
    const usage = (await page.locator('#usage').boundingBox())!;
    const centres = await page.$$eval('#burndown circle.point', (nodes) =>
      nodes.map((n) => {
        const r = n.getBoundingClientRect();
        const view = globalThis as unknown as { scrollX: number; scrollY: number };
        return {
          x: Math.round(r.x + r.width / 2 + view.scrollX),
          y: Math.round(r.y + r.height / 2 + view.scrollY),
        };
      }),
    );
    const checker = await browser.newPage();
    // Runs in the page (DOM types are not in this project's lib): passed as source text.
    const args = { data: png.toString('base64'), chart, usage, centres };
    const result = (await checker.evaluate(`(${PIXEL_CHECK})(${JSON.stringify(args)})`)) as {
      size: number[];
      lineInChart: number;
      barsInUsage: number;
      blueOutsideCharts: number;
      pointsDrawn: number;
    };
    expect(result.size[0]).toBeGreaterThan(700);
    expect(result.pointsDrawn).toBe(centres.length); // every data point is drawn where the DOM says
    expect(result.lineInChart).toBeGreaterThan(1_500); // a 3 px line across ~650 px, plus the points
    expect(result.barsInUsage).toBeGreaterThan(1_000);
    expect(result.blueOutsideCharts).toBeLessThan(50); // the colour is the chart's, not the page's
  });

  it('shows the error body when the token is wrong', async () => {
    const other = await browser.newPage();
    await other.goto(`${url}/ops?org=${orgId}&token=wrong`);
    await other.waitForSelector('body[data-rendered]');
    expect(await other.textContent('#error')).not.toBe('');
  });
});
