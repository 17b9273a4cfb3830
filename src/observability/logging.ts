import pino, { type Logger } from 'pino';

export interface GatewayLogger {
  logger: Logger;
  /** Writes out buffered lines; called on close so the last lines survive process.exit. */
  flush(): void;
}

/**
 * Lines are batched: the access line is on every request, and an asynchronous write costs a
 * thread-pool round trip and an extra event-loop wake-up (~30 µs here at 900 req/s) whatever
 * its size. So a write starts once a few KiB are buffered, or at the periodic flush; a line
 * waits at most that long, and pino writes what is buffered synchronously on exit.
 */
const batchBytes = 4096;
const flushIntervalMs = 200;

/**
 * pino, writing JSON lines asynchronously and in batches (above), with `mixin` (tracing's trace
 * id) when given. Authorization and cookies are redacted; pretty output only when a person is watching a terminal (by TTY, not NODE_ENV).
 */
export function createGatewayLogger(level: string, mixin?: pino.LoggerOptions['mixin']): GatewayLogger {
  const options: pino.LoggerOptions = {
    level,
    ...(mixin && { mixin }),
    redact: {
      // Exact paths only: wildcard paths make pino inspect every log line (measured ~9 µs each).
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'],
      censor: '[redacted]',
    },
  };
  if (process.stdout.isTTY) {
    const logger = pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
    return { logger, flush: () => logger.flush() };
  }
  const destination = pino.destination({ dest: 1, sync: false, minLength: batchBytes, periodicFlush: flushIntervalMs });
  return {
    logger: pino(options, destination),
    flush: () => {
      try {
        destination.flushSync();
      } catch {
        // Nothing buffered, or stdout already closed: nothing more can be written anyway.
      }
    },
  };
}
