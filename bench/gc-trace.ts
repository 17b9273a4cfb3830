import fs from 'node:fs';

/*
 * Summarises the --trace-gc lines the gateway wrote during the measured window, e.g.
 * "[1234:0x5e1c...]   5012 ms: Scavenge 18.2 (20.5) -> 17.1 (21.0) MB, pooled: 0 MB, 0.81 / 0.00 ms  (average mu = ...) allocation failure;"
 * The first figure after "MB," is the pause in milliseconds.
 */

export interface GcSummary {
  scavenges: number;
  markCompacts: number;
  /** Sum of the pauses of every collection in the window. */
  pauseMs: number;
  maxPauseMs: number;
}

const gcLine = /ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^,]*MB,(?: pooled: [\d.]+ MB,)? ([\d.]+) \/ /;

export function summariseGcTrace(logFile: string, fromByte: number, toByte: number): GcSummary {
  const fd = fs.openSync(logFile, 'r');
  const buffer = Buffer.alloc(Math.max(0, toByte - fromByte));
  try {
    fs.readSync(fd, buffer, 0, buffer.length, fromByte);
  } finally {
    fs.closeSync(fd);
  }
  const summary: GcSummary = { scavenges: 0, markCompacts: 0, pauseMs: 0, maxPauseMs: 0 };
  for (const line of buffer.toString('utf8').split('\n')) {
    const match = gcLine.exec(line);
    if (!match) continue;
    if (match[1] === 'Scavenge') summary.scavenges++;
    else summary.markCompacts++;
    const pause = Number(match[2]);
    summary.pauseMs += pause;
    summary.maxPauseMs = Math.max(summary.maxPauseMs, pause);
  }
  return summary;
}
