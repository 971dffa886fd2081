// The baseline of benchmarks/web.py: the usual Node.js `ws` broadcast server, speaking the
// same JSON as the chat's WebSocket for the one command the benchmark sends (say), with no
// rooms, limits or history.  Usage: node server.js PORT
"use strict";
const { WebSocketServer, WebSocket } = require("ws");

const port = Number(process.argv[2]);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
let guests = 0;

wss.on("connection", (ws) => {
  const nick = "guest" + ++guests;
  ws.send(JSON.stringify({ type: "welcome", nick, server: "node", defaultRoom: "#lobby", time: Date.now() / 1000 }));
  ws.on("message", (data) => {
    let command;
    try { command = JSON.parse(data); } catch (e) { return; }
    if (command.type !== "say") return;
    const said = JSON.stringify({ type: "said", room: command.room, nick, text: command.text, time: Date.now() / 1000 });
    for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(said);
  });
});
