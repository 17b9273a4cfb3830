import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { startScriptedUpstream, type ScriptedUpstream } from '../fixtures/scripted-upstream.js';
import { repoRoot, startGateway, type RunningGateway } from '../support/gateway.js';
import { familyOf, parseExposition, type Exposition } from '../support/exposition.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * The dashboard and the alert rules are checked against the gateway itself: every metric they
 * query must be one a live gateway's /metrics declares (a family with labels and no
 * observations yet still has its # HELP and # TYPE lines), so renaming a metric cannot leave
 * a panel or an alert silently empty. The README's metrics table must list every family.
 */

const dashboardFile = 'deploy/grafana/dashboards/portico.json';
const alertsFile = 'deploy/prometheus/alerts.yml';
const alertTestsFile = 'deploy/prometheus/alerts.test.yml';

/** The metrics the issue asks the dashboard to show, each by the family that holds it. */
const requiredOnDashboard = [
  'portico_http_requests_total',
  'portico_http_request_duration_seconds',
  'portico_http_requests_in_flight',
  'portico_upstream_calls_total',
  'portico_circuit_breaker_state',
  'portico_upstream_refusals_total',
  'portico_rate_limited_requests_total',
  'portico_nodejs_eventloop_lag_p99_seconds',
  'portico_process_resident_memory_bytes',
];

/** The metrics the alert rules must cover: error ratio, p99, breaker, replica health, Redis. */
const requiredInAlerts = [
  'portico_http_requests_total',
  'portico_http_request_duration_seconds',
  'portico_circuit_breaker_state',
  'portico_upstream_replica_health',
  'portico_rate_limit_store_up',
];

interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
  templating: { list: { query: string | { query: string } }[] };
}

interface AlertRules {
  groups: { rules: { alert: string; expr: string }[] }[];
}

function dashboardQueries(): string[] {
  const dashboard = JSON.parse(fs.readFileSync(path.join(repoRoot, dashboardFile), 'utf8')) as Dashboard;
  const panels = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  const variables = dashboard.templating.list.map((variable) => (typeof variable.query === 'string' ? variable.query : variable.query.query));
  return [...panels, ...variables];
}

function alertQueries(): string[] {
  const rules = YAML.parse(fs.readFileSync(path.join(repoRoot, alertsFile), 'utf8')) as AlertRules;
  return rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
}

/** The gateway's metric names a set of PromQL expressions reads, as families (x_bucket → x). */
function metricsQueried(queries: readonly string[], exposition: Exposition): Set<string> {
  const names = queries.flatMap((query) => query.match(/\bportico_[a-z0-9_]+\b/g) ?? []);
  return new Set(names.map((name) => familyOf(name, exposition.families)));
}

const promtoolMissing = 'promtool is not on PATH (Debian: apt-get install prometheus): PromQL not checked';

/** Runs promtool from the repository root; undefined when it is not installed. */
function promtool(args: string[]): { status: number | null; stdout: string; stderr: string } | undefined {
  const run = spawnSync('promtool', args, { cwd: repoRoot, encoding: 'utf8' });
  return (run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? undefined : run;
}

let upstream: ScriptedUpstream;
let gw: RunningGateway;
let exposition: Exposition;

before(async () => {
  upstream = await startScriptedUpstream();
  // A service with every policy, so the per-service gauges have series as well as HELP lines.
  gw = await startGateway(
    stackConfig([
      {
        ...echoService(upstream.address),
        retry: { maxAttempts: 2 },
        circuitBreaker: { failureRatio: 0.5, minimumCalls: 5, windowMs: 2000, openMs: 500, halfOpenCalls: 1 },
        concurrency: { max: 10 },
      },
    ]),
  );
  await fetch(`${gw.url}/v1/items/1`);
  exposition = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

describe('the Grafana dashboard', () => {
  it('queries only metrics the gateway exports', () => {
    const missing = [...metricsQueried(dashboardQueries(), exposition)].filter((name) => !exposition.families.has(name));
    assert.deepEqual(missing, [], `${dashboardFile} queries metrics /metrics does not declare`);
  });

  it('shows request rate, errors, latency, upstream codes, breakers, refusals, rate limits, event-loop delay and RSS', () => {
    const queried = metricsQueried(dashboardQueries(), exposition);
    assert.deepEqual(requiredOnDashboard.filter((name) => !queried.has(name)), []);
    const quantiles = dashboardQueries().flatMap((query) => /histogram_quantile\((0\.\d+), sum by \(route, le\)/.exec(query)?.[1] ?? []);
    assert.deepEqual(quantiles.sort(), ['0.5', '0.95', '0.99'], 'p50, p95 and p99 by route');
  });

  it('is valid PromQL, as promtool parses it with the Grafana variables filled in', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-dashboard-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const panelQueries = dashboardQueries().filter((query) => !query.startsWith('label_values('));
    const rules = { groups: [{ name: 'dashboard', rules: panelQueries.map((query, i) => ({ record: `dashboard:query_${i}`, expr: query.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*') })) }] };
    fs.writeFileSync(path.join(dir, 'dashboard.rules.yml'), YAML.stringify(rules));
    const check = promtool(['check', 'rules', path.join(dir, 'dashboard.rules.yml')]);
    if (!check) return t.skip(promtoolMissing);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });

  it('reads histograms through their _bucket, _sum and _count series only', () => {
    for (const query of dashboardQueries()) {
      for (const name of query.match(/\bportico_[a-z0-9_]+\b/g) ?? []) {
        if (exposition.families.get(name) === 'histogram') assert.fail(`${name} is a histogram: query ${name}_bucket, _sum or _count`);
      }
    }
  });
});

describe('the Prometheus alert rules', () => {
  it('query only metrics the gateway exports', () => {
    const missing = [...metricsQueried(alertQueries(), exposition)].filter((name) => !exposition.families.has(name));
    assert.deepEqual(missing, [], `${alertsFile} queries metrics /metrics does not declare`);
  });

  it('cover the error ratio, p99 latency, open breakers, replicas and the rate-limit store', () => {
    const queried = metricsQueried(alertQueries(), exposition);
    assert.deepEqual(requiredInAlerts.filter((name) => !queried.has(name)), []);
  });

  it('pass promtool check rules and their unit tests', (t) => {
    const check = promtool(['check', 'rules', alertsFile]);
    if (!check) return t.skip(promtoolMissing);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    const unit = promtool(['test', 'rules', alertTestsFile])!;
    assert.equal(unit.status, 0, `${unit.stdout}${unit.stderr}`);
  });
});

describe("the README's metrics table", () => {
  it('lists every metric family the gateway exports', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Metrics\n'), readme.indexOf('\n## ', readme.indexOf('\n## Metrics\n') + 1));
    const rows = section.split('\n').filter((line) => line.startsWith('| `portico_'));
    const listed = rows.flatMap((row) => row.split('|')[1]!.match(/`portico_[a-z0-9_*]+`/g) ?? []).map((name) => name.slice(1, -1));
    const documented = (family: string): boolean => listed.some((name) => (name.endsWith('*') ? family.startsWith(name.slice(0, -1)) : family === name));
    assert.deepEqual([...exposition.families.keys()].filter((family) => !documented(family)), []);
  });
});
