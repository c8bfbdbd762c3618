// Open a `syndisco report` page in headless Chromium and check it.
//
//   node report_check.mjs CONFIG.json
//
// CONFIG: {playwright, chromium, report, shots, open: [{log, annotations,
// shot?}], big?: {report, discussions}}. Fails (exit 1) on console
// errors, page errors, dialogs, any request that is not file://, or a
// thread whose DOM disagrees with the discussion's JSON log.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(cfg.playwright, 'package.json'));
const { chromium } = require('playwright-core');

const failures = [];
function check(cond, what) {
	if (!cond) failures.push(what);
	return cond;
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syndisco-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
	executablePath: cfg.chromium,
	headless: true,
	chromiumSandbox: false,
	viewport: { width: 1400, height: 1000 },
	args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
		'--disable-component-update', '--disable-sync', '--no-first-run',
		'--disable-dev-shm-usage'],
});
const problems = [];
await context.route('**/*', (route) => {
	const url = route.request().url();
	if (url.startsWith('file:')) return route.continue();
	problems.push('network request: ' + url);
	return route.abort();
});

async function openPage(file) {
	const page = await context.newPage();
	page.on('console', (m) => {
		if (m.type() === 'error' || m.type() === 'warning')
			problems.push(`console ${m.type()} in ${path.basename(file)}: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push(`page error in ${path.basename(file)}: ${e.message}`));
	page.on('dialog', (d) => { problems.push('dialog opened: ' + d.message()); d.dismiss(); });
	const t0 = Date.now();
	await page.goto('file://' + path.resolve(file));
	await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
	return { page, ms: Date.now() - t0 };
}

const result = { screenshots: [] };
const { page, ms } = await openPage(cfg.report);
result.load_ms = ms;

// the summary: a table and the charts, as inline SVG
const summaryRows = await page.locator('#summary-table tbody tr').count();
check(summaryRows >= 1, 'summary table has no rows');
const charts = await page.locator('figure.chart svg').count();
check(charts >= 2 + (cfg.annotators || 0), `only ${charts} charts`);
check(await page.locator('figure.chart rect.bar').count() > 0, 'charts have no bars');
const summaryShot = path.join(cfg.shots, 'report-summary.png');
await page.locator('#summary').screenshot({ path: summaryShot });
result.screenshots.push(summaryShot);

for (const want of cfg.open) {
	const log = JSON.parse(fs.readFileSync(want.log, 'utf8'));
	const where = path.basename(want.log);
	// pick it the way a reader would: search for its id, click it
	await page.fill('#search', log.id);
	await page.waitForFunction((id) => {
		const b = document.querySelectorAll('#disc-list button');
		return b.length === 1 && b[0].textContent.includes(id.slice(0, 8));
	}, log.id, { timeout: 10000 });
	await page.click('#disc-list button');
	await page.waitForSelector('#comments');
	const n = await page.locator('#comments .comment').count();
	check(n === log.logs.length, `${where}: thread shows ${n} comments, log has ${log.logs.length}`);
	const isMod = (c) => (c.is_moderator !== undefined ? c.is_moderator : c.name === log.moderator);
	const nMod = await page.locator('#comments .comment.mod').count();
	const wantMod = log.logs.filter(isMod).length;
	check(nMod === wantMod, `${where}: ${nMod} moderator comments shown, ${wantMod} in the log`);
	// every comment's text and speaker, exactly (textContent, so markup in
	// the text must show as text)
	const shown = await page.$$eval('#comments .comment', (els) => els.map((e) => ({
		user: e.querySelector('.user').textContent,
		text: e.querySelector('.text').textContent,
		badges: e.querySelectorAll('.badge').length,
	})));
	shown.forEach((s, i) => {
		const c = log.logs[i] || {};
		check(s.user === c.name, `${where} #${i}: speaker ${JSON.stringify(s.user)}`);
		check(s.text === c.text, `${where} #${i}: text differs`);
	});
	const badges = shown.reduce((a, s) => a + s.badges, 0);
	check(badges === want.annotations, `${where}: ${badges} annotation badges, expected ${want.annotations}`);
	// the data, the browser, the comparisons' drawing and (with numeric
	// labels or scores) their data: no other script element
	const wantScripts = 3 + (await page.locator('#sd-compare').count());
	check(await page.locator('script').count() === wantScripts, `${where}: extra script elements`);
	// persona on click
	await page.locator('#comments .comment .user').first().click();
	const persona = page.locator('#comments .comment .persona').first();
	check(await persona.count() === 1, `${where}: no persona box after a click`);
	if (log.user_prompts && log.user_prompts.length) {
		const text = await persona.textContent();
		check(text.includes('username') || text.includes('No persona'),
			`${where}: persona box shows ${text}`);
	}
	// the raw annotation on click
	if (want.annotations) {
		await page.locator('#comments .badge').first().click();
		check(await page.locator('#comments .raw').count() === 1, `${where}: no raw annotation`);
	}
	if (want.shot) {
		const shot = path.join(cfg.shots, want.shot);
		// the top of the thread as a reader sees it, persona and raw
		// annotation open
		await page.locator('#discussions').scrollIntoViewIfNeeded();
		await page.evaluate(() => document.getElementById('discussions').scrollIntoView());
		await page.screenshot({ path: shot });
		result.screenshots.push(shot);
	}
	result[where] = { comments: n, moderator: nMod, badges };
}
await page.close();

if (cfg.big) {
	const big = await openPage(cfg.big.report);
	result.big_load_ms = big.ms;
	const count = await big.page.textContent('#list-count');
	check(count.startsWith(`${cfg.big.discussions} of ${cfg.big.discussions}`),
		`big report list: ${count}`);
	const t0 = Date.now();
	const last = cfg.big.discussions - 1;
	await big.page.evaluate((i) => { location.hash = '#d' + i; }, last);
	await big.page.waitForSelector('#comments');
	result.big_open_ms = Date.now() - t0;
	const n = await big.page.locator('#comments .comment').count();
	const want = await big.page.evaluate((i) =>
		JSON.parse(document.getElementById('sd-data').textContent).discussions[i].comments.length, last);
	check(n === want && n > 0, `big report: discussion ${last} shows ${n} of ${want}`);
	const t1 = Date.now();
	await big.page.fill('#search', 'zzz-no-such-text');
	await big.page.waitForFunction(() =>
		document.getElementById('list-count').textContent.startsWith('0 of'));
	result.big_search_ms = Date.now() - t1;
	await big.page.close();
}

await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
failures.push(...problems);
result.failures = failures;
console.log(JSON.stringify(result, null, 1));
process.exit(failures.length ? 1 : 0);
