// Open a `syndisco report` page with conditions in headless Chromium and
// check its "Conditions compared" section: one chart of means with CIs per
// measure and one "through the turns" chart per label, drawn by the page
// (non-empty SVG whose values are the embedded comparisons), the embedded
// comparisons equal to `syndisco stats --compare --json`, and the table of
// pairwise differences.
//
//   node report_compare_check.mjs CONFIG.json
//
// CONFIG: {playwright, chromium, report, stats (the stats JSON file), shot}
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(cfg.playwright, 'package.json'));
const { chromium } = require('playwright-core');
const failures = [];
const check = (cond, what) => { if (!cond) failures.push(what); return cond; };

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syndisco-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
	executablePath: cfg.chromium, headless: true, chromiumSandbox: false,
	viewport: { width: 1400, height: 1000 },
	args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
		'--disable-component-update', '--disable-sync', '--no-first-run',
		'--disable-dev-shm-usage'],
});
await context.route('**/*', (route) => {
	const url = route.request().url();
	if (url.startsWith('file:')) return route.continue();
	failures.push('network request: ' + url);
	return route.abort();
});
const page = await context.newPage();
page.on('console', (m) => {
	if (m.type() === 'error' || m.type() === 'warning') failures.push(`console: ${m.text()}`);
});
page.on('pageerror', (e) => failures.push('page error: ' + e.message));
await page.goto('file://' + path.resolve(cfg.report));
await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });

const stats = JSON.parse(fs.readFileSync(cfg.stats, 'utf8'));
const embedded = await page.evaluate(() =>
	JSON.parse(document.getElementById('sd-compare').textContent));
check(JSON.stringify(embedded) === JSON.stringify(stats),
	'the report\'s comparisons differ from stats --compare --json');
const metrics = stats.metrics;
const labels = metrics.filter((m) => m.kind === 'label');
check(metrics.length > 0 && labels.length > 0, 'no label and score measures to show');

// means with CIs: one chart per measure, one point per condition
const means = await page.$$eval('#compare-charts figure.chart', (figs) => figs.map((f) => {
	const box = f.querySelector('svg').getBoundingClientRect();
	return {
		metric: f.dataset.metric, w: box.width, h: box.height,
		points: [...f.querySelectorAll('circle.mean')].map((c) => ({
			condition: c.dataset.condition, mean: Number(c.dataset.mean),
			cy: Number(c.getAttribute('cy')),
		})),
		bars: f.querySelectorAll('line.ci').length,
	};
}));
check(means.length === metrics.length, `${means.length} mean charts for ${metrics.length} measures`);
means.forEach((c, i) => {
	const m = metrics[i] || { by_condition: [] };
	check(c.metric === m.name, `chart ${i} shows ${c.metric}, not ${m.name}`);
	check(c.w > 100 && c.h > 50, `chart ${c.metric} is empty (${c.w}x${c.h})`);
	check(c.points.length === m.by_condition.length, `${c.metric}: ${c.points.length} points`);
	check(c.bars === 3 * m.by_condition.length, `${c.metric}: ${c.bars} CI lines`);
	c.points.forEach((p, k) => {
		const want = m.by_condition[k];
		check(p.condition === want.condition && Math.abs(p.mean - want.mean) < 1e-9,
			`${c.metric}: point ${k} is ${p.condition}=${p.mean}`);
		check(Number.isFinite(p.cy), `${c.metric}: point ${k} not placed`);
	});
	// a higher mean sits higher (smaller y)
	for (let a = 0; a < c.points.length; a++)
		for (let b = 0; b < c.points.length; b++)
			if (c.points[a].mean > c.points[b].mean + 1e-9)
				check(c.points[a].cy < c.points[b].cy, `${c.metric}: points out of order`);
});

// through the turns: per label, a band and a line per condition
const turns = await page.$$eval('#turn-charts figure.chart', (figs) => figs.map((f) => ({
	metric: f.dataset.metric,
	w: f.querySelector('svg').getBoundingClientRect().width,
	bands: [...f.querySelectorAll('polygon.band')].map((p) => ({
		condition: p.dataset.condition, points: p.getAttribute('points').split(' ').length,
	})),
	lines: [...f.querySelectorAll('polyline.turn-line')].map((p) => ({
		condition: p.dataset.condition, means: p.dataset.means.split(' ').map(Number),
		points: p.getAttribute('points').split(' ').length,
	})),
})));
check(turns.length === labels.length, `${turns.length} turn charts for ${labels.length} labels`);
turns.forEach((t, i) => {
	const m = labels[i] || { by_turn: [] };
	const series = m.by_turn.filter((s) => s.turns.length);
	check(t.metric === m.name && t.w > 100, `turn chart ${i}: ${t.metric}, width ${t.w}`);
	check(t.lines.length === series.length && t.bands.length === series.length,
		`${t.metric}: ${t.lines.length} lines, ${t.bands.length} bands for ${series.length} conditions`);
	t.lines.forEach((l, k) => {
		const s = series[k];
		check(l.condition === s.condition && l.points === s.turns.length &&
			l.means.every((v, j) => Math.abs(v - s.turns[j].mean) < 1e-9),
			`${t.metric}: the line of ${l.condition} is not its means per turn`);
		check(t.bands[k].points === 2 * s.turns.length, `${t.metric}: band of ${l.condition}`);
	});
});

// the pairwise differences
const nDiffs = metrics.reduce((a, m) => a + m.differences.length, 0);
const rows = await page.locator('#compare-diffs tbody tr').count();
check(rows === nDiffs && nDiffs > 0, `${rows} difference rows, ${nDiffs} differences`);
const first = metrics.find((m) => m.differences.length);
const cells = await page.$$eval('#compare-diffs tbody tr:first-child td', (td) => td.map((x) => x.textContent));
const d0 = first.differences[0];
check(cells[3] === (d0.diff >= 0 ? '+' : '') + d0.diff.toFixed(3) ||
	cells[3] === (d0.diff >= 0 ? '+' : '-') + Math.abs(d0.diff).toFixed(3),
	`first difference shows ${cells[3]}, want ${d0.diff}`);

await page.locator('#compare').screenshot({ path: cfg.shot });
await context.close();
fs.rmSync(userDataDir, { recursive: true, force: true });
console.log(JSON.stringify({ measures: metrics.length, labels: labels.length,
	differences: nDiffs, shot: cfg.shot, failures }, null, 1));
process.exit(failures.length ? 1 : 0);
