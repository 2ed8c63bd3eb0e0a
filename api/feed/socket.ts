/**
 * /feed: WebSocket clients of the hub, with subscribe filters, heartbeats, a cap on connections
 * per process and, optionally, the API key.
 */
import type { FastifyInstance } from 'fastify';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { readClientMessage } from './client-messages.ts';
import type { FeedClient, FeedHub } from './hub.ts';

/** /feed: WebSocket clients of the hub, with subscribe filters and heartbeats. */
export function attachFeed(
  app: FastifyInstance,
  hub: FeedHub,
  opts: { maxClients: number; keyOk: (key: string | string[] | undefined) => boolean },
): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  app.server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://feed');
    if (url.pathname !== '/feed') return socket.destroy();
    if (!opts.keyOk(req.headers['x-api-key'] ?? url.searchParams.get('api_key') ?? undefined)) {
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"code":"unauthorized","message":"the feed needs header x-api-key or ?api_key="}',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // Over the cap: accepted, then closed with the reason, so a client can tell why (a refused
      // upgrade is only "connection failed" in a browser).
      if (hub.size >= opts.maxClients)
        return ws.close(1013, `too many feed clients (HITSTREAM_FEED_MAX_CLIENTS=${opts.maxClients})`);
      wss.emit('connection', ws, socket);
    });
  });
  const alive = new WeakSet<WebSocket>();
  wss.on('connection', (ws: WebSocket, socket: Duplex) => {
    const client: FeedClient = {
      // A Buffer goes out as a text frame as it is (ws would otherwise encode each send anew).
      send: (t) => ws.send(t, { binary: false }),
      bufferedAmount: () => ws.bufferedAmount,
      batch(sends) {
        socket.cork();
        try {
          sends();
        } finally {
          socket.uncork();
        }
      },
    };
    hub.add(client);
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('message', (data) => {
      const m = readClientMessage(Buffer.from(data as Buffer));
      if (m.ok) hub.setFilter(client, m.filter);
      ws.send(JSON.stringify(m.reply));
    });
    ws.on('close', () => hub.remove(client));
    ws.send(
      JSON.stringify({
        type: 'hello',
        message: 'subscribe with {"type":"subscribe","genre":"pop","model":"xgb","min_score":50}',
      }),
    );
  });
  // Heartbeats: a client that missed a ping round is gone; slow sockets get drained on a timer too.
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) ws.terminate();
      else {
        alive.delete(ws);
        ws.ping();
      }
    }
  }, 15_000);
  const drain = setInterval(() => hub.flushAll(), 50);
  app.addHook('onClose', (_app, done) => {
    clearInterval(heartbeat);
    clearInterval(drain);
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => done());
  });
}
