#!/usr/bin/env node
/*
 * Local Telegram Bot API emulator for end-to-end tests.
 *
 * Runs the npm package `telegram-test-api` (pinned to 4.2.1 in package.json)
 * with a handful of small runtime patches (six, each headed PATCH n below) that make its answers match the
 * shapes of the real Bot API closely enough for python-telegram-bot 22.x.
 * Nothing in node_modules is edited: we monkeypatch TelegramServer methods
 * and replace entries of the exported `routes` array (which the
 * TelegramServer constructor iterates) BEFORE the server is constructed.
 *
 * Usage:
 *   node launch.js [--host 127.0.0.1] [--port 0] [--store-timeout 3600] [--watch-stdin]
 *   env: EMULATOR_HOST, EMULATOR_PORT, EMULATOR_STORE_TIMEOUT
 *
 *   --port 0 (the default) lets the OS pick a free port; the port actually
 *   bound is announced on stdout as exactly one line:  READY <port>
 *   --watch-stdin: exit when stdin closes (the test harness passes a pipe so
 *   that the emulator dies with its parent even if the parent is SIGKILLed).
 *
 * Stops cleanly on SIGTERM / SIGINT.
 *
 * How python-telegram-bot 22.8 talks to this server: every Bot API call is an
 * HTTP POST to <base_url><token>/<method> made by httpx with `data=` (and
 * `files=` only when uploading), i.e. application/x-www-form-urlencoded, every
 * value a string; dict/list parameters (reply_markup, entities,
 * reply_parameters, ...) are JSON-encoded strings. The emulator's
 * express.urlencoded() parser sees them, and its normalizeMessage()
 * JSON-parses reply_markup/entities. Multipart uploads (sendPhoto,
 * sendDocument with a file) have no parser here and end up as HTTP 500.
 */
'use strict';


function fail(msg, code) {
  process.stderr.write(`launch.js: ${msg}\n`);
  process.exit(code);
}

let TelegramServer;
let routesModule;
let botRouteUtils;
let botRoutes;
let clientRoutes;
try {
  TelegramServer = require('telegram-test-api');
  routesModule = require('telegram-test-api/lib/routes');
  botRouteUtils = require('telegram-test-api/lib/routes/bot/utils');
  botRoutes = {
    getMe: require('telegram-test-api/lib/routes/bot/getMe').getMe,
    sendMessage: require('telegram-test-api/lib/routes/bot/sendMessage').sendMessage,
    editMessageText: require('telegram-test-api/lib/routes/bot/editMessageText').editMessageText,
    editMessageReplyMarkup:
      require('telegram-test-api/lib/routes/bot/editMessageReplyMarkup').editMessageReplyMarkup,
  };
  clientRoutes = {
    sendMessage: require('telegram-test-api/lib/routes/client/sendMessage').sendMessage,
    sendCommand: require('telegram-test-api/lib/routes/client/sendCommand').sendCommand,
    sendCallback: require('telegram-test-api/lib/routes/client/sendCallback').sendCallback,
  };
} catch (err) {
  fail(
    `cannot load telegram-test-api (${err.message}).\n`
    + `Install it with:  npm ci --prefix tests/emulator   (from the repository root; i.e. ${__dirname})`,
    2,
  );
}

// ---------------------------------------------------------------- arguments
function parseArgs(argv) {
  const opts = {
    host: process.env.EMULATOR_HOST || '127.0.0.1',
    port: process.env.EMULATOR_PORT !== undefined ? process.env.EMULATOR_PORT : '0',
    storeTimeout: process.env.EMULATOR_STORE_TIMEOUT || '3600',
    watchStdin: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? a.split(/=(.*)/s, 2) : [a, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--host': opts.host = value(); break;
      case '--port': opts.port = value(); break;
      case '--store-timeout': opts.storeTimeout = value(); break;
      case '--watch-stdin': opts.watchStdin = true; break;
      case '-h': case '--help':
        process.stdout.write('usage: node launch.js [--host 127.0.0.1] [--port 0] '
          + '[--store-timeout SECONDS] [--watch-stdin]\n');
        process.exit(0);
        break;
      default:
        // bare positional port, e.g. `node launch.js 9000`
        if (/^\d+$/.test(a)) opts.port = a;
        else fail(`unknown argument ${a}`, 2);
    }
  }
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port ${opts.port}`, 2);
  if (!['127.0.0.1', 'localhost', '::1'].includes(opts.host)) {
    fail(`refusing to listen on ${opts.host}: the emulator is for loopback only`, 2);
  }
  const storeTimeout = Number(opts.storeTimeout);
  if (!(storeTimeout > 0)) fail(`bad store timeout ${opts.storeTimeout}`, 2);
  return { host: opts.host, port, storeTimeout, watchStdin: opts.watchStdin };
}

// ------------------------------------------------------------------ helpers
const DEFAULT_BOT_ID = 666; // what the unpatched emulator reports

// The bot user as the real getMe would describe it. Real tokens are
// "<bot id>:<secret>", so use the numeric prefix as the id when there is one.
function botUser(token) {
  const prefix = String(token || '').split(':', 1)[0];
  const id = /^\d{1,15}$/.test(prefix) ? Number(prefix) : DEFAULT_BOT_ID;
  return {
    id,
    is_bot: true,
    first_name: 'Test First name',
    username: 'TestNameBot',
  };
}

const toSeconds = (millis) => Math.floor(Number(millis) / 1000);

// The emulator does not store chat types; infer them from the id like the
// real id spaces: users > 0, basic groups < 0, supergroups/channels -100xxxxxxxxxx.
const chatFor = (chatId) => {
  const id = Number(chatId);
  if (id <= -1000000000000) return { id, type: 'supergroup' };
  return { id, type: id < 0 ? 'group' : 'private' };
};

// Bot API error answer, as the real server sends it (HTTP status == error_code).
function sendApiError(res, code, description) {
  res.status(code).json({ ok: false, error_code: code, description });
}

function replaceRoute(original, replacement) {
  const { routes } = routesModule;
  const idx = routes.indexOf(original);
  if (idx === -1) throw new Error(`route ${original.name} not found in telegram-test-api routes`);
  routes[idx] = replacement; // in place: keeps the catch-all unknownMethod route last
}

// ------------------------------------------------------------------ patches

// PATCH 1 - getMe.
// The emulator answers {username, first_name, id} only. python-telegram-bot's
// User requires `is_bot`, so Application.initialize() (which calls getMe)
// fails and the bot never starts. Answer the full real-API shape.
replaceRoute(botRoutes.getMe, function getMe(app) {
  botRouteUtils.handle(app, '/bot:token/getMe', (req, res) => {
    res.sendResult({
      ok: true,
      result: {
        ...botUser(req.params.token),
        can_join_groups: true,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
        can_connect_to_business: false,
        has_main_web_app: false,
      },
    });
  });
});

// PATCH 2 - sendMessage result date.
// addBotMessage() returns the sent Message with `date` in MILLISECONDS
// (Date.getTime()); the Bot API uses unix SECONDS and PTB's Message parsing
// raises "year out of range" on the returned object, so every
// send_message/reply_text would fail. Answer seconds. (The stored entry keeps
// its millisecond `time`, which the emulator's cleanup relies on.) Also add
// the `from` (the bot) that the real Message carries.
const originalAddBotMessage = TelegramServer.prototype.addBotMessage;
TelegramServer.prototype.addBotMessage = function addBotMessage(rawMessage, botToken) {
  const msg = originalAddBotMessage.call(this, rawMessage, botToken);
  // (The unpatched result also claims every chat is `private`; give the
  // inferred type instead, as the edit results below do.)
  return {
    ...msg, date: toSeconds(msg.date), from: botUser(botToken), chat: chatFor(msg.chat.id),
  };
};

// PATCH 3 - callback_query.chat_instance.
// formatUpdate() builds callback_query updates from {id, from, message, data}
// only; `chat_instance` is a required field of CallbackQuery, so PTB cannot
// parse the update and the button press is silently dropped. Add a stable
// per-chat value (or keep one the client supplied).
const originalFormatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = function formatUpdate(update) {
  const formatted = originalFormatUpdate.call(this, update);
  if (formatted.callback_query && formatted.callback_query.chat_instance === undefined) {
    const cq = update.callbackQuery || {};
    const chatId = cq.message && cq.message.chat ? cq.message.chat.id : (cq.from && cq.from.id);
    formatted.callback_query.chat_instance = cq.chat_instance !== undefined
      ? String(cq.chat_instance)
      : String(7000000000000 + Number(chatId || 0));
  }
  return formatted;
};

// PATCH 4 - editMessageText / editMessageReplyMarkup results.
// Both answer {ok: true, result: null}; the real Bot API answers the edited
// Message (or `true` when editing an inline message by inline_message_id).
// PTB parses the result into a Message and raises after an edit that actually
// succeeded. Answer the edited Message; answer 400 "message to edit not
// found" like the real API when there is no such message (instead of a
// null that PTB cannot parse). While at it, apply the real semantics for the
// keyboard: an edit that does not pass reply_markup REMOVES the inline
// keyboard (the emulator kept the old one, and editMessageReplyMarkup without
// a markup was a no-op), so history shows what a real user would see.
function findBotMessage(server, token, chatId, messageId) {
  return server.storage.botMessages.find((u) => u.botToken === token
    && String(u.messageId) === String(messageId)
    && String(u.message.chat_id) === String(chatId));
}

function editedMessageResult(stored, token) {
  const m = stored.message;
  const result = {
    message_id: stored.messageId,
    from: botUser(token),
    chat: chatFor(m.chat_id),
    date: toSeconds(stored.time),
    edit_date: Math.floor(Date.now() / 1000),
    text: m.text,
  };
  if (m.entities) result.entities = m.entities;
  if (m.reply_markup && 'inline_keyboard' in m.reply_markup) result.reply_markup = m.reply_markup;
  return result;
}

function editRoute(method, apply) {
  return function patchedEditRoute(app, server) {
    botRouteUtils.handle(app, `/bot:token/${method}`, (req, res) => {
      const token = req.params.token;
      const body = TelegramServer.normalizeMessage(req.body || {});
      if (body.inline_message_id !== undefined) {
        res.sendResult({ ok: true, result: true });
        return;
      }
      const stored = findBotMessage(server, token, body.chat_id, body.message_id);
      if (!stored) {
        sendApiError(res, 400, 'Bad Request: message to edit not found');
        return;
      }
      apply(server, stored, body);
      res.sendResult({ ok: true, result: editedMessageResult(stored, token) });
    });
  };
}

function stripIds({ chat_id: _c, message_id: _m, ...rest }) { return rest; }

replaceRoute(botRoutes.editMessageText, editRoute('editMessageText', (server, stored, body) => {
  const next = { ...stored.message, ...stripIds(body) };
  if (body.reply_markup === undefined) delete next.reply_markup; // real API drops the keyboard
  if (body.entities === undefined) delete next.entities;
  stored.message = next;
  server.emit('EditedMessageText');
}));

replaceRoute(botRoutes.editMessageReplyMarkup, editRoute('editMessageReplyMarkup', (server, stored, body) => {
  const next = { ...stored.message };
  if (body.reply_markup && 'inline_keyboard' in body.reply_markup
      && body.reply_markup.inline_keyboard.length > 0) {
    next.reply_markup = body.reply_markup;
  } else {
    delete next.reply_markup; // no / empty markup = remove the keyboard
  }
  stored.message = next;
  server.emit('EditedMessageReplyMarkup');
}));

// PATCH 5 - client API (test side, not Bot API): report ids, don't crash.
// /sendMessage, /sendCommand and /sendCallback answer result: null and call
// async methods without awaiting them, so a malformed request (e.g. a command
// without `entities`) becomes an unhandled rejection that kills node. Await
// them, answer 400 on error, and return the message_id / callback query id
// the emulator assigned so tests can refer to the user's message.
function clientRoute(url, addMethod, counter, resultKey) {
  return function patchedClientRoute(app, server) {
    app.post(url, async (req, res) => {
      const id = server[counter]; // assigned synchronously by addMethod below
      try {
        await server[addMethod](req.body);
        res.json({ ok: true, result: { [resultKey]: resultKey === 'id' ? String(id) : id } });
      } catch (err) {
        res.status(400).json({ ok: false, error_code: 400, description: String(err && err.message) });
      }
    });
  };
}
replaceRoute(clientRoutes.sendMessage, clientRoute('/sendMessage', 'addUserMessage', 'messageId', 'message_id'));
replaceRoute(clientRoutes.sendCommand, clientRoute('/sendCommand', 'addUserCommand', 'messageId', 'message_id'));
replaceRoute(clientRoutes.sendCallback, clientRoute('/sendCallback', 'addUserCallback', 'callbackId', 'id'));

// PATCH 6 - webhook delivery as Telegram does it.
// addUserUpdate() POSTs the update to the webhook without the
// X-Telegram-Bot-Api-Secret-Token header that Telegram sends when setWebhook
// was given a secret_token, and axios throws on any error status. Send the
// header, and answer the client 502 when the bot's webhook refused the
// update (instead of storing nothing silently): tests see the refusal.
{
  const axios = require('axios');
  TelegramServer.prototype.addUserUpdate = async function addUserUpdate(update) {
    if (!update.botToken) throw new Error('The message must be of type object and must contain `botToken` field.');
    const webhook = this.webhooks[update.botToken];
    if (webhook) {
      const headers = {};
      if (webhook.secret_token) headers['X-Telegram-Bot-Api-Secret-Token'] = webhook.secret_token;
      const resp = await axios({
        url: webhook.url, method: 'POST', headers, data: TelegramServer.formatUpdate(update),
        validateStatus: () => true,
      });
      if (resp.status > 204) {
        this.updateId++;
        throw new Error(`webhook answered HTTP ${resp.status}`);
      }
    } else {
      this.storage.userMessages.push(update);
    }
    this.updateId++;
  };
}

// ------------------------------------------------------------------- start
async function main() {
  const opts = parseArgs(process.argv.slice(2));

  process.on('unhandledRejection', (err) => {
    process.stderr.write(`launch.js: unhandled rejection: ${err && err.stack ? err.stack : err}\n`);
  });

  // normalizeConfig() turns port 0 into 9000 (`port || 9000`), so construct
  // with a placeholder and put the real requested port back before listening.
  const server = new TelegramServer({
    host: opts.host,
    port: opts.port || 9000,
    storeTimeout: opts.storeTimeout,
  });
  server.config.port = opts.port;
  await server.start();
  const { port } = server.server.address();
  server.config.port = port;
  server.config.apiURL = `${server.config.protocol}://${opts.host}:${port}`;

  let stopping = false;
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`launch.js: stopping (${why})\n`);
    // http-shutdown waits for in-flight requests; don't hang forever on them.
    setTimeout(() => process.exit(0), 3000).unref();
    try {
      await server.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (opts.watchStdin) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin error'));
    process.stdin.resume();
  }

  process.stdout.write(`READY ${port}\n`);
}

main().catch((err) => fail(`failed to start: ${err && err.stack ? err.stack : err}`, 1));
