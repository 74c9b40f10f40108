// ws_echo.js — node `ws` echo server for bench/: `node ws_echo.js HOST PORT
// [deflate]`. Echoes each message as it came (binary stays binary); no
// permessage-deflate (ws's server default, set explicitly) unless "deflate"
// is given (then ws's defaults: threshold 1 KiB, context takeover), no UTF-8 re-validation beyond ws's
// own; ws sets TCP_NODELAY on every socket. `ws` comes from bench/node_modules
// (bench/install-deps.sh).
'use strict';
const { WebSocketServer } = require('ws');

const [host, port, deflate] = process.argv.slice(2);
if (!host || !port) {
  console.error('usage: node ws_echo.js HOST PORT');
  process.exit(2);
}
const wss = new WebSocketServer({ host, port: Number(port), perMessageDeflate: deflate === 'deflate', clientTracking: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('error', (e) => {
  console.error('ws_echo.js: ' + e.message);
  process.exit(1);
});
