import fs from 'node:fs';
const s = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const f = s.snapshot.meta.node_fields, types = s.snapshot.meta.node_types[0];
const N = f.length, nodes = s.nodes, strings = s.strings;
const ti = f.indexOf('type'), ni = f.indexOf('name'), si = f.indexOf('self_size');
const agg = new Map();
for (let i = 0; i < nodes.length; i += N) {
  const key = types[nodes[i+ti]] + ':' + strings[nodes[i+ni]].slice(0,60);
  const e = agg.get(key) ?? [0,0]; e[0]++; e[1]+=nodes[i+si]; agg.set(key,e);
}
console.log([...agg].sort((a,b)=>b[1][0]-a[1][0]).slice(0,40).map(([k,[c,sz]])=>`${String(c).padStart(8)} ${String(sz).padStart(10)} ${k}`).join('\n'));
