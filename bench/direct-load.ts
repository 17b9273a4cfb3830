import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { create, createRegistry, fromJson, type DescMessage, type DescMethod, type Message, type MessageInitShape } from '@bufbuild/protobuf';
import { compileRpc, type CompiledRpc } from '../src/upstreams/upstream.js';
import { createItemBody, loadBenchProto } from './bench-proto.js';
import { effectiveWorkers, quotaOf, type LoadShape } from './load-shape.js';
import { runPaced } from './paced-load.js';
import { Samples, summarise, type LatencySummary } from './stats.js';

/*
 * The ceiling: a plain grpc-js client calling the benchmark backend directly, in a child
 * process of its own (as the gateway is), with the same concurrency and arrival pattern as
 * the HTTP load. It uses the gateway's own codec (compileRpc) and one channel, as the
 * gateway's Upstream does, so the difference is what the HTTP hop and transcoding cost.
 * bench/run.ts sends one DirectJob over IPC and gets one DirectResult back.
 */

export type DirectOp = { kind: 'get' } | { kind: 'post' } | { kind: 'list'; pageSize: number } | { kind: 'stream'; count: number };

export interface DirectJob {
  address: string;
  op: DirectOp;
  shape: LoadShape;
  /** Unmeasured load before anything else (bench/run.ts says why it is a closed loop). */
  warmup: { shape: Extract<LoadShape, { kind: 'closed' }>; seconds: number };
  /** Unmeasured seconds of `shape` after the warm-up. */
  settleSeconds: number;
  durationSeconds: number;
}

export interface DirectResult {
  /** Calls (or whole streams) completed without error in the measured window. */
  completed: number;
  /** Stream messages received in the measured window (0 for unary calls). */
  messages: number;
  errors: number;
  firstError?: string;
  seconds: number;
  latency: LatencySummary;
  /** This client process's CPU time per completed call, in microseconds. */
  clientCpuMicros: number;
}

/** The channel options of src/upstreams/upstream.ts, so both callers run the same grpc-js setup. */
const channelOptions: grpc.ChannelOptions = {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.enable_channelz': 0,
};

type Call = () => Promise<number>;

/** One call of `op`; resolves to the number of stream messages received (0 for unary). */
function callFor(client: grpc.Client, op: DirectOp): Call {
  const proto = loadBenchProto();
  const rpc = (name: string): CompiledRpc => {
    const method = proto.service.methods.find((m: DescMethod) => m.name === name);
    if (!method) throw new Error(`no method ${name}`);
    // The direct client decodes no error details: an empty registry for them.
    return compileRpc(method, createRegistry());
  };
  const unary = (compiled: CompiledRpc, request: () => Message): Call => () =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(compiled.path, compiled.serialize, compiled.deserialize, request(), (err) => (err ? reject(err) : resolve(0)));
    });
  // A client builds its request from its own data on every call, as the gateway does from JSON.
  const make = (desc: DescMessage, init: Record<string, unknown>) => (): Message => create(desc, init as MessageInitShape<DescMessage>);
  switch (op.kind) {
    case 'get':
      return unary(rpc('GetItem'), make(proto.getItemRequest, { id: 'item-42' }));
    case 'post': {
      const item = fromJson(proto.item, JSON.parse(createItemBody()) as never);
      return unary(rpc('CreateItem'), make(proto.createItemRequest, { item }));
    }
    case 'list':
      return unary(rpc('ListItems'), make(proto.listItemsRequest, { pageSize: op.pageSize }));
    case 'stream': {
      const compiled = rpc('StreamItems');
      const request = make(proto.streamItemsRequest, { count: op.count });
      return () =>
        new Promise((resolve, reject) => {
          let received = 0;
          const call = client.makeServerStreamRequest(compiled.path, compiled.serialize, compiled.deserialize, request());
          call.on('data', () => received++);
          call.on('error', reject);
          call.on('status', (status: grpc.StatusObject) => {
            if (status.code === grpc.status.OK) resolve(received);
          });
        });
    }
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function run(job: DirectJob): Promise<DirectResult> {
  const client = new grpc.Client(job.address, grpc.credentials.createInsecure(), channelOptions);
  const call = callFor(client, job.op);
  await call(); // connect and check the call works before timing anything
  try {
    if (job.warmup.seconds > 0) await saturate(call, job.warmup.shape.workers, job.warmup.seconds);
    return job.shape.kind === 'paced' ? await paced(job, job.shape.rate, call) : await loops(job, job.shape, call);
  } finally {
    client.close();
  }
}

async function paced(job: DirectJob, rate: number, call: Call): Promise<DirectResult> {
  let messages = 0;
  const counting = (): Promise<number> => call().then((received) => (messages += received));
  if (job.settleSeconds > 0) await runPaced(rate, job.settleSeconds, call);
  const cpuBefore = process.cpuUsage();
  const result = await runPaced(rate, job.durationSeconds, counting);
  const cpu = process.cpuUsage(cpuBefore);
  return {
    completed: result.completed,
    messages,
    errors: result.errors,
    ...(result.firstError !== undefined && { firstError: result.firstError }),
    seconds: result.seconds,
    latency: summarise(result.latencies.values()),
    clientCpuMicros: result.completed > 0 ? (cpu.user + cpu.system) / result.completed : 0,
  };
}

/** `workers` closed loops for `seconds`, nothing measured. */
async function saturate(call: Call, workers: number, seconds: number): Promise<void> {
  const until = performance.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) await call().catch(() => 0);
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

/** `workers` closed loops, optionally limited to autocannon-style per-second quotas. */
async function loops(job: DirectJob, shape: Exclude<LoadShape, { kind: 'paced' }>, call: Call): Promise<DirectResult> {
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
  const latencies = new Samples();
  let completed = 0;
  let messages = 0;
  let errors = 0;
  let firstError: string | undefined;

  const workers = effectiveWorkers(shape);
  // Rate-limited workers share one per-second reset, as autocannon's connections (created together) do.
  const madeThisSecond = new Array<number>(workers).fill(0);
  let secondTick = deferred();
  const ticker =
    shape.kind === 'rate'
      ? setInterval(() => {
          madeThisSecond.fill(0);
          const tick = secondTick;
          secondTick = deferred();
          tick.resolve();
        }, 1000)
      : undefined;

  const worker = async (index: number): Promise<void> => {
    const quota = shape.kind === 'rate' ? quotaOf(shape.rate, workers, index) : Infinity;
    while (phase !== 'stop') {
      if (madeThisSecond[index]! >= quota) {
        await secondTick.promise;
        continue;
      }
      madeThisSecond[index]!++;
      const counted = phase === 'measure';
      const started = performance.now();
      try {
        const received = await call();
        if (counted && phase === 'measure') {
          latencies.push(performance.now() - started);
          completed++;
          messages += received;
        }
      } catch (err) {
        if (counted && phase === 'measure') {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }
  };

  const running = Array.from({ length: workers }, (_, i) => worker(i));
  await sleep(job.settleSeconds * 1000);
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  phase = 'measure';
  await sleep(job.durationSeconds * 1000);
  phase = 'stop';
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (ticker) clearInterval(ticker);
  secondTick.resolve();
  await Promise.all(running);
  return {
    completed,
    messages,
    errors,
    ...(firstError !== undefined && { firstError }),
    seconds,
    latency: summarise(latencies.values()),
    clientCpuMicros: completed > 0 ? (cpu.user + cpu.system) / completed : 0,
  };
}

process.once('message', (job: DirectJob) => {
  run(job).then(
    (result) => process.send!(result, () => process.exit(0)),
    (err: unknown) => {
      console.error('direct client failed:', err);
      process.exit(1);
    },
  );
});
