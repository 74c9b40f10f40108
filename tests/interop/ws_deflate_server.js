// ws_deflate_server.js PORT — an echo server on the `ws` package with
// permessage-deflate on for every message (threshold 0). Prints "listening"
// once ready, and one JSON line per connection with the extensions it agreed.
const WebSocket = require('ws');
const wss = new WebSocket.Server({ port: Number(process.argv[2]), host: '127.0.0.1',
  perMessageDeflate: { threshold: 0 } }, () => console.log('listening'));
wss.on('connection', (ws, req) => {
  console.log(JSON.stringify({ offer: req.headers['sec-websocket-extensions'] || null,
                               extensions: ws.extensions }));
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
