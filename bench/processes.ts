import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchRoot } from './bench-proto.js';

/*
 * The benchmark's child processes (backend, gateway, reference minimal gateway, direct client)
 * and what /proc says about them. CPU time comes from /proc/<pid>/stat rather than from inside
 * the process, so the gateway needs no benchmark hooks and is measured exactly as it runs in
 * production.
 */

export const repoRoot = path.resolve(benchRoot, '..');

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of `pid` so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state field (field 3).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / clockTicks;
}

/** Peak resident set size (VmHWM) of `pid`, in MiB. */
export function peakRssMiB(pid: number): number {
  return statusMiB(pid, 'VmHWM');
}

/** Resident set size now (VmRSS) of `pid`, in MiB. */
export function rssMiB(pid: number): number {
  return statusMiB(pid, 'VmRSS');
}

function statusMiB(pid: number, field: string): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

/** A free loopback port (there is a small window for another process to take it; fine here). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Sends SIGTERM, and SIGKILL if the process has not exited after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Forks a TypeScript module of bench/ with tsx; `reply` is its first IPC message. */
export function forkTs<T>(module: string, firstMessage?: unknown): { child: ChildProcess; reply: Promise<T> } {
  const child = fork(path.join(benchRoot, module), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    cwd: repoRoot,
  });
  const reply = new Promise<T>((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    child.once('exit', (code, signal) => reject(new Error(`${module} exited (${signal ?? code}) before answering`)));
  });
  // Avoid an unhandled rejection when the caller stops the child after its answer.
  reply.catch(() => {});
  if (firstMessage !== undefined) child.send(firstMessage as object);
  return { child, reply };
}

export interface BackendProcess {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startBackend(): Promise<BackendProcess> {
  const { child, reply } = forkTs<{ address: string }>('backend.ts');
  const { address } = await reply;
  return { address, pid: child.pid!, stop: () => stopProcess(child) };
}

export interface GatewayLaunch {
  /** YAML config text; `server.port` is set from `port`. */
  configYaml: string;
  port: number;
  /** Run src/server.ts with tsx instead of the built dist/server.js. */
  fromSource: boolean;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags: readonly string[];
  /** The checkout whose dist/server.js runs (default: this one; --against names another). */
  checkout?: string;
}

/** A child HTTP server of the benchmark: the gateway, or the reference minimal gateway. */
export interface GatewayProcess {
  url: string;
  pid: number;
  /** A copy of the process's stdout and stderr (pino JSON lines, --trace-gc lines). */
  logFile: string;
  stop(): Promise<void>;
}

/**
 * The node flags production runs the gateway with: those of the `start` script in
 * package.json, which the Dockerfile's ENTRYPOINT repeats (test/deploy checks it).
 */
export function productionNodeFlags(): string[] {
  const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const [command, ...rest] = (packageJson.scripts['start'] ?? '').trim().split(/\s+/);
  if (command !== 'node' || rest.length === 0) throw new Error(`package.json's start script is not "node [flags] <entry>": ${packageJson.scripts['start']}`);
  return rest.slice(0, -1);
}

/** Starts the gateway as production does (`node dist/server.js --config file`) and waits until /readyz says 200. */
export async function startGateway(launch: GatewayLaunch): Promise<GatewayProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-bench-'));
  const configFile = path.join(dir, 'portico.yaml');
  fs.writeFileSync(configFile, launch.configYaml);
  const entry = launch.fromSource ? ['--import', 'tsx', 'src/server.ts'] : ['dist/server.js'];
  // Environment overrides of the config would silently change what is measured.
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(launch.port) };
  delete env['PORTICO_JWT_SECRET'];
  delete env['LOG_LEVEL'];
  const checkout = launch.checkout ?? repoRoot;
  const label = checkout === repoRoot ? 'the gateway' : `the gateway of ${checkout}`;
  return startHttpServer(label, dir, [...launch.nodeFlags, ...entry, '--config', configFile], env, launch.port, checkout);
}

/**
 * Starts the reference minimal gateway (bench/minimal-gateway.ts, under plain node: type
 * stripping, no tsx) in front of `backend`, and waits until /readyz says 200.
 */
export async function startMinimalGateway(backend: string, port: number, nodeFlags: readonly string[]): Promise<GatewayProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-bench-minimal-'));
  const args = [...nodeFlags, path.join(benchRoot, 'minimal-gateway.ts'), backend, String(port)];
  return startHttpServer('the minimal gateway', dir, args, { ...process.env }, port, repoRoot);
}

/**
 * Spawns `node <args>` in `cwd` with stdout and stderr piped into `<dir>/gateway.log` and waits until
 * `/readyz` on `port` says 200; `stop()` ends the process and removes `dir`.
 */
async function startHttpServer(label: string, dir: string, args: readonly string[], env: NodeJS.ProcessEnv, port: number, cwd: string): Promise<GatewayProcess> {
  const logFile = path.join(dir, 'gateway.log');
  // stdout is a pipe that another process reads, as under a container runtime (a file or
  // /dev/null would make logging cheaper or dearer than in production); `cat` copies it to the
  // file. This process is the HTTP load generator: copying the log here put a read and a write
  // per access line on the side that measures latency, which the minimal gateway (no log) was
  // spared.
  const logFd = fs.openSync(logFile, 'w');
  const copier = spawn('cat', [], { stdio: ['pipe', logFd, logFd] });
  fs.closeSync(logFd);
  const logClosed = new Promise<void>((resolve) => copier.once('close', () => resolve()));
  const logPipe = copier.stdin!;
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', logPipe, logPipe] });
  // The server holds the pipe's write end now; `cat` ends once the server has exited.
  logPipe.destroy();
  let exited = false;
  child.once('exit', () => (exited = true));
  const logTail = async (): Promise<string> => {
    await Promise.race([logClosed, sleep(1000)]);
    return tail(logFile);
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`${label} exited during start-up:\n${await logTail()}`);
    if (Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`${label} was not ready after 30 s:\n${await logTail()}`);
    }
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return {
    url,
    pid: child.pid!,
    logFile,
    stop: async () => {
      await stopProcess(child);
      await logClosed;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
