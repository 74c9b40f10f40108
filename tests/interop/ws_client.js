// ws_client.js URL MSG... — a client on the `ws` package: sends each MSG
// (a "bin:" prefix sends the rest as a binary message), waits for one reply
// each, prints one JSON line per reply {type, data}, then closes normally and
// prints {close: code}. Exits 1 on error or after 10 s (SOCKIT_TIME_SCALE
// multiplies it). WS_DEFLATE=1: offer permessage-deflate and compress every
// message (threshold 0); the open line then also shows the agreed extensions.
const WebSocket = require('ws');
const [url, ...msgs] = process.argv.slice(2);
const scale = Number(process.env.SOCKIT_TIME_SCALE || 1);
const timer = setTimeout(() => { console.error('ws_client: timeout'); process.exit(1); }, 10000 * scale);
const deflate = process.env.WS_DEFLATE === '1';
const ws = new WebSocket(url, process.env.WS_PROTOCOL ? [process.env.WS_PROTOCOL] : undefined,
  deflate ? { perMessageDeflate: { threshold: 0 } } : {});
let i = 0;
function next() {
  if (i >= msgs.length) { ws.close(1000, 'bye'); return; }
  const m = msgs[i++];
  if (m.startsWith('bin:')) ws.send(Buffer.from(m.slice(4)), { binary: true });
  else if (m.startsWith('big:')) ws.send('x'.repeat(Number(m.slice(4))));
  else ws.send(m);
}
ws.on('open', () => {
  const line = { open: true, protocol: ws.protocol };
  if (deflate) line.extensions = ws.extensions;
  console.log(JSON.stringify(line));
  next();
});
ws.on('message', (data, isBinary) => {
  const s = data.toString('utf8');
  console.log(JSON.stringify({ type: isBinary ? 'binary' : 'text', data: s.length > 200 ? 'len:' + s.length + ':' + s.slice(0, 8) : s }));
  next();
});
ws.on('close', (code) => { console.log(JSON.stringify({ close: code })); clearTimeout(timer); process.exit(0); });
ws.on('error', (e) => { console.error('ws_client: ' + e.message); process.exit(1); });
