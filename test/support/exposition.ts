/*
 * The Prometheus text exposition format as a scrape of `/metrics` returns it, read just far
 * enough for tests: the metric families (# TYPE lines) and each sample's name and labels.
 */

export interface Sample {
  /** The sample's own name: a histogram's series end in _bucket, _sum or _count. */
  name: string;
  labels: Record<string, string>;
}

export interface Exposition {
  /** Family name → type (counter, gauge, histogram, summary, untyped). */
  families: Map<string, string>;
  samples: Sample[];
}

const typeLine = /^# TYPE (\S+) (\S+)$/;
const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+(?: \S+)?$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Exposition {
  const families = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP')) continue;
    const type = typeLine.exec(line);
    if (type) {
      families.set(type[1]!, type[2]!);
      continue;
    }
    const sample = sampleLine.exec(line);
    if (!sample) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (sample[2] ?? '').matchAll(labelPair)) labels[name!] = JSON.parse(`"${value}"`) as string;
    samples.push({ name: sample[1]!, labels });
  }
  return { families, samples };
}

/** The family a series name belongs to: `x_bucket`, `x_sum` and `x_count` of a histogram are `x`. */
export function familyOf(series: string, families: ReadonlyMap<string, string>): string {
  if (families.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return families.get(base) === 'histogram' || families.get(base) === 'summary' ? base : series;
}
