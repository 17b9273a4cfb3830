import type { FastifyServerOptions } from 'fastify';

/**
 * pino options: JSON lines, Authorization and cookies redacted wherever they appear, pretty
 * output only when a person is watching a terminal (not by NODE_ENV).
 */
export function loggerOptions(level: string): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', '*.authorization'],
      censor: '[redacted]',
    },
    ...(process.stdout.isTTY && { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }),
  };
}
