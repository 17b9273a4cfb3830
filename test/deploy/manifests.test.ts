import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import YAML from 'yaml';
import { ConfigError, normaliseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { loadCatalog } from '../../src/descriptors/catalog.js';

/*
 * The deployment files are checked against the application itself: the probe paths against
 * its health routes, the termination grace against its shutdown config, the configs against
 * its own validation and proto loading, and the Dockerfile's entry point against the build.
 */

const root = path.resolve(import.meta.dirname, '../..');
const repoProtoDir = path.join(root, 'proto');
/** Where the Dockerfile puts proto/: the includeDirs of the deployment configs. */
const imageProtoDir = '/app/proto';
const jwtSecret = 'a-test-secret-of-more-than-16-characters';
const contextServices = ['investor', 'company-selector', 'market-monitor', 'indicator-insights'];

interface Probe {
  httpGet: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}

interface Container {
  args?: string[];
  ports: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  startupProbe: Probe;
  readinessProbe: Probe;
  livenessProbe: Probe;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
}

interface Manifest {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec: Record<string, unknown>;
}

interface DeploymentSpec {
  replicas: number;
  strategy: { type: string; rollingUpdate: { maxUnavailable: number | string; maxSurge: number | string } };
  template: {
    metadata: { annotations: Record<string, string> };
    spec: {
      terminationGracePeriodSeconds: number;
      securityContext: { runAsNonRoot?: boolean };
      containers: Container[];
      volumes: { name: string; configMap?: { name: string } }[];
    };
  };
}

function renderKustomize(): Manifest[] {
  const result = spawnSync('kubectl', ['kustomize', path.join(root, 'deploy/k8s')], { encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.fail('kubectl is not on PATH: these tests render deploy/k8s with `kubectl kustomize` (no cluster needed)');
  }
  assert.equal(result.status, 0, `kubectl kustomize deploy/k8s failed:\n${result.stderr}`);
  return YAML.parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Manifest);
}

function readYaml(file: string): unknown {
  return YAML.parse(fs.readFileSync(path.join(root, file), 'utf8'), { merge: true });
}

/** The config file as the container sees it, with includeDirs pointed at this checkout's proto/. */
function withRepoProtos(file: string): Record<string, unknown> {
  const raw = readYaml(file) as { protos: { includeDirs: string[] } };
  assert.deepEqual(raw.protos.includeDirs, [imageProtoDir], `${file}: protos.includeDirs should be the image's ${imageProtoDir}`);
  return { ...raw, protos: { includeDirs: [repoProtoDir] } };
}

function validate(file: string, env: NodeJS.ProcessEnv): GatewayConfig {
  return normaliseConfig(withRepoProtos(file), { baseDir: path.dirname(path.join(root, file)), env });
}

/** A port given by name resolves through the container's named ports. */
function portNumber(container: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A regression that starts serving instead of exiting fails the test rather than hanging it.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('Kubernetes manifests rendered by kubectl kustomize deploy/k8s', () => {
  let manifests: Manifest[];
  let deployment: DeploymentSpec;
  let container: Container;
  const k8sConfig = validate('deploy/k8s/config.yaml', { PORTICO_JWT_SECRET: jwtSecret });

  const one = (kind: string): Manifest => {
    const found = manifests.filter((m) => m.kind === kind);
    assert.equal(found.length, 1, `expected one ${kind}, found ${found.length}`);
    return found[0]!;
  };

  before(() => {
    manifests = renderKustomize();
    deployment = one('Deployment').spec as unknown as DeploymentSpec;
    assert.equal(deployment.template.spec.containers.length, 1);
    container = deployment.template.spec.containers[0]!;
  });

  it('contain the gateway Deployment with its Service, Ingress, PodDisruptionBudget, autoscaler and ConfigMap', () => {
    assert.deepEqual(manifests.map((m) => m.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Ingress',
      'PodDisruptionBudget',
      'Service',
    ]);
  });

  it('listen on container port 8080 and probe the routes the gateway serves on it', () => {
    assert.equal(portNumber(container, 'http'), 8080);
    assert.equal(k8sConfig.server.port, 8080);
    const probes = { startupProbe: '/healthz', livenessProbe: '/healthz', readinessProbe: '/readyz' } as const;
    for (const [probe, route] of Object.entries(probes)) {
      const { httpGet } = container[probe as keyof typeof probes];
      assert.equal(httpGet.path, route, probe);
      assert.equal(portNumber(container, httpGet.port), 8080, probe);
    }
  });

  it('give a terminating pod longer than the shutdown delay plus grace of the config it runs', () => {
    const { delayMs, graceMs } = k8sConfig.shutdown;
    assert.deepEqual({ delayMs, graceMs }, { delayMs: 5000, graceMs: 20000 });
    assert.ok(deployment.template.spec.terminationGracePeriodSeconds > (delayMs + graceMs) / 1000);
  });

  it('notice a draining pod as unready before its shutdown delay ends', () => {
    const { periodSeconds = 10, failureThreshold = 3 } = container.readinessProbe;
    assert.ok(periodSeconds * failureThreshold * 1000 < k8sConfig.shutdown.delayMs);
  });

  it('mount deploy/k8s/config.yaml from a ConfigMap without a hash suffix, as a directory that sees updates', () => {
    const configMap = one('ConfigMap');
    assert.equal(configMap.metadata.name, 'portico-config');
    assert.equal(configMap.data?.['config.yaml'], fs.readFileSync(path.join(root, 'deploy/k8s/config.yaml'), 'utf8'));
    const volume = deployment.template.spec.volumes.find((v) => v.configMap?.name === 'portico-config');
    assert.ok(volume, 'no volume for the ConfigMap');
    const mount = container.volumeMounts.find((m) => m.name === volume.name);
    assert.deepEqual(mount && { mountPath: mount.mountPath, subPath: mount.subPath }, { mountPath: '/etc/portico', subPath: undefined });
    assert.deepEqual(container.args, ['--config', '/etc/portico/config.yaml']);
  });

  it('take the JWT secret from a Secret through PORTICO_JWT_SECRET and keep it out of the ConfigMap', () => {
    const env = container.env?.find((e) => e.name === 'PORTICO_JWT_SECRET');
    assert.ok(env?.valueFrom?.secretKeyRef, 'PORTICO_JWT_SECRET does not come from a Secret');
    assert.equal(env.value, undefined);
    assert.equal((readYaml('deploy/k8s/config.yaml') as { auth: { jwt: Record<string, unknown> } }).auth.jwt['secret'], undefined);
  });

  it('roll out one extra pod at a time without taking a ready one down', () => {
    assert.equal(deployment.replicas, 3);
    assert.deepEqual(deployment.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  });

  it('run as a non-root user with a read-only root filesystem and bounded memory', () => {
    assert.equal(deployment.template.spec.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.resources, { requests: { cpu: '250m', memory: '192Mi' }, limits: { memory: '384Mi' } });
  });

  it('let Prometheus scrape /metrics on the container port', () => {
    const annotations = deployment.template.metadata.annotations;
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.equal(annotations['prometheus.io/path'], '/metrics');
    assert.equal(portNumber(container, Number(annotations['prometheus.io/port'])), 8080);
  });

  it('expose port 80 of a ClusterIP Service and route the nginx Ingress to it, unbuffered for streams', () => {
    const service = one('Service');
    const { type, ports } = service.spec as { type: string; ports: { name: string; port: number; targetPort: string | number }[] };
    assert.equal(type, 'ClusterIP');
    assert.equal(ports.length, 1);
    assert.equal(ports[0]!.port, 80);
    assert.equal(portNumber(container, ports[0]!.targetPort), 8080);

    const ingress = one('Ingress');
    const spec = ingress.spec as { ingressClassName: string; rules: { http: { paths: { backend: { service: { name: string; port: { name?: string; number?: number } } } }[] } }[] };
    assert.equal(spec.ingressClassName, 'nginx');
    const backends = spec.rules.flatMap((rule) => rule.http.paths.map((p) => p.backend.service));
    assert.ok(backends.length > 0);
    for (const backend of backends) {
      assert.equal(backend.name, service.metadata.name);
      assert.ok(backend.port.name === ports[0]!.name || backend.port.number === ports[0]!.port);
    }
    assert.equal(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-buffering'], 'off');
    assert.ok(Number(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 60);
  });

  it('keep two pods through voluntary disruptions and autoscale the Deployment on 70% CPU from three', () => {
    assert.equal(one('PodDisruptionBudget').spec['minAvailable'], 2);
    const hpa = one('HorizontalPodAutoscaler').spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      metrics: { resource: { name: string; target: { averageUtilization: number } } }[];
    };
    assert.equal(hpa.scaleTargetRef.kind, 'Deployment');
    assert.equal(hpa.scaleTargetRef.name, one('Deployment').metadata.name);
    assert.equal(hpa.minReplicas, 3);
    assert.deepEqual(
      hpa.metrics.map((m) => [m.resource.name, m.resource.target.averageUtilization]),
      [['cpu', 70]],
    );
  });

  it('point every upstream at a headless Service through dns:/// so calls are balanced across its pods', () => {
    for (const service of k8sConfig.services) {
      assert.match(service.address ?? '', /^dns:\/\/\/[a-z0-9-]+-headless\.[a-z0-9-]+\.svc\.cluster\.local:\d+$/, service.name);
    }
  });
});

describe('the deployment configs', () => {
  for (const file of ['deploy/k8s/config.yaml', 'deploy/compose/config.yaml']) {
    it(`${file} passes the gateway's validation and its protos load, for the four demo contexts`, () => {
      const config = validate(file, { PORTICO_JWT_SECRET: jwtSecret });
      const catalog = loadCatalog(config.protos.includeDirs, config.services);
      assert.deepEqual(
        catalog.services.map((s) => s.config.name),
        contextServices,
      );
      for (const service of catalog.services) assert.ok(service.methods.length > 0, `${service.config.name} has no methods`);
    });

    it(`${file} is refused without PORTICO_JWT_SECRET, which the deployment must provide`, () => {
      assert.throws(
        () => validate(file, {}),
        (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('auth.jwt:')),
      );
    });

    it(`${file} is accepted by \`portico --check-config\` run without a container`, async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-deploy-'));
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const raw = withRepoProtos(file);
      const configFile = path.join(dir, 'config.yaml');
      fs.writeFileSync(configFile, YAML.stringify({ ...raw, server: { ...(raw['server'] as object), port: 0 } }));

      const env: NodeJS.ProcessEnv = { ...process.env, PORTICO_JWT_SECRET: jwtSecret, LOG_LEVEL: 'warn' };
      delete env['PORT'];
      const result = await run(process.execPath, ['--import', 'tsx', 'src/server.ts', '--config', configFile, '--check-config'], env);
      assert.equal(result.code, 0, `exit ${result.code}\n${result.stderr}${result.stdout}`);
      const summary = /^config OK: (\d+) services, (\d+) bindings and (\d+) route modules$/m.exec(result.stdout);
      assert.ok(summary, `no summary line in:\n${result.stdout}`);
      assert.equal(Number(summary[1]), contextServices.length);
      assert.ok(Number(summary[2]) > 0);
      assert.equal(Number(summary[3]), contextServices.length, 'every demo context has a route module');
    });
  }
});

describe('docker-compose.yml', () => {
  interface ComposeService {
    build?: string;
    command?: string[];
    ports?: string[];
    volumes?: string[];
    stop_grace_period?: string;
    image?: string;
    environment?: Record<string, string>;
  }
  const compose = readYaml('docker-compose.yml') as { services: Record<string, ComposeService> };
  const service = (name: string): ComposeService => {
    const found = compose.services[name];
    assert.ok(found, `no service ${name}`);
    return found;
  };
  /** Host path of a bind mount, resolved against the compose file's directory. */
  const bindMounts = (s: ComposeService): { source: string; target: string }[] =>
    (s.volumes ?? []).map((volume) => {
      const [source = '', target = ''] = volume.split(':');
      return { source: path.resolve(root, source), target };
    });

  it('runs the demo gateway, the configured gateway, Prometheus, Grafana and Jaeger', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['grafana', 'jaeger', 'portico', 'portico-demo', 'prometheus']);
    for (const name of ['portico', 'portico-demo']) assert.equal(service(name).build, '.', `${name} is not built from the Dockerfile`);
  });

  it('starts the demo by asking for it, published on port 8080 of the loopback of the host only', () => {
    // All of the container's interfaces: the port mapping and Prometheus reach it from outside.
    assert.deepEqual(service('portico-demo').command, ['--demo', '--host', '0.0.0.0']);
    assert.deepEqual(service('portico-demo').ports, ['127.0.0.1:8080:8080']);
  });

  it('mounts deploy/compose/config.yaml where the configured gateway is told to read it', () => {
    const gateway = service('portico');
    const [flag, configPath = ''] = gateway.command ?? [];
    assert.equal(flag, '--config');
    const mount = bindMounts(gateway).find((m) => configPath.startsWith(`${m.target}/`));
    assert.ok(mount, `nothing is mounted at ${configPath}`);
    assert.equal(path.join(mount.source, path.relative(mount.target, configPath)), path.join(root, 'deploy/compose/config.yaml'));
    assert.ok(gateway.ports?.some((p) => p.endsWith(':8080')));
  });

  it('gives the configured gateway longer to stop than its shutdown delay plus grace', () => {
    const { delayMs, graceMs } = validate('deploy/compose/config.yaml', { PORTICO_JWT_SECRET: jwtSecret }).shutdown;
    const stopGrace = /^(\d+)s$/.exec(service('portico').stop_grace_period ?? '');
    assert.ok(stopGrace, 'stop_grace_period should be given in seconds');
    assert.ok(Number(stopGrace[1]) * 1000 > delayMs + graceMs);
  });

  it('mounts only files that exist, and Prometheus scrapes both gateways on their container port', () => {
    for (const name of Object.keys(compose.services)) {
      for (const { source } of bindMounts(service(name))) assert.ok(fs.existsSync(source), `${name}: ${source} does not exist`);
    }
    const prometheus = readYaml('deploy/compose/prometheus.yml') as {
      scrape_configs: { metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets));
    assert.deepEqual(targets.sort(), ['portico-demo:8080', 'portico:8080']);
    for (const job of prometheus.scrape_configs) assert.equal(job.metrics_path ?? '/metrics', '/metrics');
  });

  it('has Prometheus evaluate deploy/prometheus/alerts.yml, mounted where its config looks for rules', () => {
    const { rule_files: ruleFiles } = readYaml('deploy/compose/prometheus.yml') as { rule_files: string[] };
    const mounts = bindMounts(service('prometheus'));
    for (const file of ruleFiles) {
      const mount = mounts.find((m) => m.target === file);
      assert.ok(mount, `nothing is mounted at ${file}`);
      assert.equal(mount.source, path.join(root, 'deploy/prometheus/alerts.yml'));
    }
    assert.ok(ruleFiles.length > 0);
  });

  it('provisions Grafana with the Prometheus datasource the dashboard names, and the dashboard from deploy/grafana/dashboards', () => {
    const mounts = bindMounts(service('grafana'));
    const provisioning = mounts.find((m) => m.target === '/etc/grafana/provisioning');
    assert.equal(provisioning?.source, path.join(root, 'deploy/grafana/provisioning'));
    const datasources = readYaml('deploy/grafana/provisioning/datasources/prometheus.yml') as { datasources: { uid: string; type: string; url: string }[] };
    const [prometheus] = datasources.datasources;
    assert.equal(prometheus?.type, 'prometheus');
    assert.equal(prometheus.url, 'http://prometheus:9090');
    const providers = readYaml('deploy/grafana/provisioning/dashboards/portico.yml') as { providers: { options: { path: string } }[] };
    const dashboards = mounts.find((m) => m.target === providers.providers[0]?.options.path);
    assert.equal(dashboards?.source, path.join(root, 'deploy/grafana/dashboards'));
    const dashboard = JSON.parse(fs.readFileSync(path.join(root, 'deploy/grafana/dashboards/portico.json'), 'utf8')) as { panels: { datasource?: { uid: string } }[] };
    for (const panel of dashboard.panels) if (panel.datasource) assert.equal(panel.datasource.uid, prometheus.uid);
    assert.deepEqual(service('grafana').ports, ['127.0.0.1:3000:3000'], 'anonymous viewers: the host\'s loopback only');
  });

  it('runs Jaeger all-in-one with OTLP over gRPC and HTTP enabled', () => {
    const jaeger = service('jaeger');
    assert.match(jaeger.image ?? '', /^jaegertracing\/all-in-one:/);
    assert.equal(jaeger.environment?.['COLLECTOR_OTLP_ENABLED'], 'true');
    for (const port of ['4317', '4318']) assert.ok(jaeger.ports?.some((p) => p.endsWith(`:${port}`)), `OTLP port ${port} is published`);
  });
});

describe('Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  /** Instructions of the last stage, one per logical line (continuations joined). */
  const runtime = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .reduce<string[]>((stage, line) => (/^FROM\s/i.test(line) ? [line] : [...stage, line]), []);
  const instruction = (name: string): string[] => runtime.filter((line) => line.startsWith(`${name} `)).map((line) => line.slice(name.length + 1).trim());

  it('builds and runs on the Node major of the node devDependency', () => {
    const packageJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const major = /\d+/.exec(packageJson.devDependencies['node'] ?? '')?.[0];
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gim)].map((m) => m[1]);
    assert.ok(bases.length >= 2, 'expected a multi-stage build');
    for (const base of bases) assert.equal(base, `node:${major}-bookworm-slim`);
  });

  it('starts dist/server.js, the file tsconfig.build.json compiles src/server.ts to', () => {
    const build = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
    const entry = path.join(build.compilerOptions.outDir, path.relative(build.compilerOptions.rootDir, 'src/server.ts')).replace(/\.ts$/, '.js');
    assert.ok(fs.existsSync(path.join(root, 'src/server.ts')));
    const start = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start']!;
    assert.deepEqual(start.split(/\s+/).at(-1), entry, 'npm start runs the same entry point');
    // The image runs the gateway exactly as `npm start` does, node flags included.
    assert.deepEqual(JSON.parse(instruction('ENTRYPOINT')[0] ?? 'null'), start.split(/\s+/));
    assert.deepEqual(instruction('CMD'), [], 'arguments are the config file or --demo, given by whoever runs the image');
    assert.ok(instruction('COPY').includes(`--from=build /app/${build.compilerOptions.outDir} ./${build.compilerOptions.outDir}`));
  });

  /** The runtime stage's ENV, as name → value. */
  const environment = (): Record<string, string> =>
    Object.fromEntries(instruction('ENV').flatMap((line) => line.split(/\s+/).map((pair) => pair.split('=', 2) as [string, string])));

  it('needs a config: it reads /etc/portico/config.yaml, where compose and Kubernetes mount theirs', () => {
    assert.equal(environment()['PORTICO_CONFIG'], '/etc/portico/config.yaml');
  });

  it('refuses to start without arguments or a mounted config, instead of running the demo', async (t) => {
    const configFile = environment()['PORTICO_CONFIG']!;
    if (fs.existsSync(configFile)) return t.skip(`${configFile} exists on this machine`);
    const env: NodeJS.ProcessEnv = { ...process.env, ...environment(), PORT: '0' };
    const result = await run(process.execPath, ['--import', 'tsx', 'src/server.ts'], env);
    assert.equal(result.code, 1, `exit ${result.code}\n${result.stderr}${result.stdout}`);
    assert.equal(result.stderr, `portico: no config file at ${configFile} (PORTICO_CONFIG): mount one there, pass --config <file>, or --demo for the embedded demo\n`);
  });

  it(`puts proto/ at ${imageProtoDir}, the includeDirs of the deployment configs, and runs it as a non-root user on 8080`, () => {
    assert.deepEqual(instruction('WORKDIR'), [path.dirname(imageProtoDir)]);
    assert.ok(instruction('COPY').includes('proto ./proto'));
    const user = instruction('USER')[0] ?? 'root';
    assert.ok(!/^(root|0)(:|$)/.test(user), `runs as ${user}`);
    assert.deepEqual(instruction('EXPOSE'), ['8080']);
    assert.match(instruction('HEALTHCHECK')[0] ?? '', /\/healthz/);
  });
});
