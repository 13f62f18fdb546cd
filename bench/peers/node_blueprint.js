#!/usr/bin/env node
// Peer: the core loop of the AWS "LogsToElasticsearch" Lambda blueprint (Node.js), the
// function the CloudWatch console sets up to stream a log group to OpenSearch, written here
// from its documented behaviour. Per Lambda event: base64, gunzip, JSON.parse of the envelope,
// control messages skipped; per log event a document (the JSON found in the message, from its
// first `{`, merged at the top level, then @id, @timestamp, @message, @owner, @log_group,
// @log_stream) and an action line (daily index cwl-YYYY.MM.DD, _type = the log group, _id =
// the event id), appended to one _bulk body string.
//
// Only the core loop: the HTTPS request and its SigV4 signature are left out (the body is
// built and measured, then dropped), which flatters the blueprint. gunzipSync rather than the
// blueprint's callback gunzip keeps the run on one thread, like the floor.
//
// Stages (all start from the Lambda event's text, what the Node runtime hands the handler):
//   decode          base64 + gunzip + envelope
//   bulk_blueprint  the blueprint's loop, as it is: JSON looked for anywhere in the message,
//                   parsed twice (once to check it, once to use it)
//   bulk_lean       the floor's work in Node: only messages that are a JSON object, parsed once,
//                   no _type: what a careful Node forwarder would do
//   bulk_lean_gz6   bulk_lean + the documents as NDJSON, gzip level 6 (the archive object)
//
// usage: node bench/peers/node_blueprint.js DATA_DIR [REPS] [STAGE,STAGE...]
//          one untimed pass first (the JIT), then REPS (default 3) timed passes per stage,
//          stages taking turns; one JSON line per stage on stdout, progress on stderr
//        node bench/peers/node_blueprint.js --one EVENT.json [--dump BULK_OUT]
//          the blueprint's loop once on one event (peak RSS, start-up time)
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function decode(eventText) {
  const event = JSON.parse(eventText);
  const gz = Buffer.from(event.awslogs.data, 'base64');
  return JSON.parse(zlib.gunzipSync(gz).toString('utf8'));
}

const two = (n) => (n < 10 ? '0' + n : '' + n);

function dailyIndex(date) {
  return 'cwl-' + date.getUTCFullYear() + '.' + two(date.getUTCMonth() + 1) + '.' + two(date.getUTCDate());
}

// The blueprint's JSON extraction: from the first '{' to the end, kept if it parses.
function jsonFrom(message) {
  const at = message.indexOf('{');
  if (at === -1) return null;
  const candidate = message.substring(at);
  try {
    JSON.parse(candidate);
  } catch (e) {
    return null;
  }
  return candidate;
}

function blueprintBody(payload) {
  if (payload.messageType === 'CONTROL_MESSAGE') return null;
  let body = '';
  for (const logEvent of payload.logEvents) {
    const when = new Date(1 * logEvent.timestamp);
    const json = jsonFrom(logEvent.message);
    const source = json === null ? {} : JSON.parse(json);
    source['@id'] = logEvent.id;
    source['@timestamp'] = when.toISOString();
    source['@message'] = logEvent.message;
    source['@owner'] = payload.owner;
    source['@log_group'] = payload.logGroup;
    source['@log_stream'] = payload.logStream;
    const action = { index: { _index: dailyIndex(when), _type: payload.logGroup, _id: logEvent.id } };
    body += [JSON.stringify(action), JSON.stringify(source)].join('\n') + '\n';
  }
  return body;
}

// The floor's rule: a message is JSON when, trimmed, it is `{...}` and parses to an object.
function objectOf(message) {
  const text = message.trim();
  if (text.length < 2 || text.charCodeAt(0) !== 0x7b || text.charCodeAt(text.length - 1) !== 0x7d) return null;
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch (e) {
    return null;
  }
}

// Returns [bulk body, NDJSON of the documents or null].
function leanBody(payload, withNdjson) {
  if (payload.messageType !== 'DATA_MESSAGE') return ['', withNdjson ? '' : null];
  let body = '';
  let ndjson = '';
  for (const logEvent of payload.logEvents) {
    const iso = new Date(logEvent.timestamp).toISOString();
    const index = 'cwl-' + iso.substring(0, 4) + '.' + iso.substring(5, 7) + '.' + iso.substring(8, 10);
    const doc = objectOf(logEvent.message) || {};
    doc['@id'] = logEvent.id;
    doc['@timestamp'] = iso;
    doc['@message'] = logEvent.message;
    doc['@owner'] = payload.owner;
    doc['@log_group'] = payload.logGroup;
    doc['@log_stream'] = payload.logStream;
    const line = JSON.stringify(doc) + '\n';
    body += '{"index":{"_index":"' + index + '","_id":' + JSON.stringify(logEvent.id) + '}}\n' + line;
    if (withNdjson) ndjson += line;
  }
  return [body, withNdjson ? ndjson : null];
}

// Stands in for the HTTPS _bulk request: the body's size, so the work cannot be skipped.
const send = (body) => (body === null ? 0 : body.length);

const STAGES = {
  decode: (text) => decode(text).logEvents.length,
  bulk_blueprint: (text) => send(blueprintBody(decode(text))),
  bulk_lean: (text) => send(leanBody(decode(text), false)[0]),
  bulk_lean_gz6: (text) => {
    const [body, ndjson] = leanBody(decode(text), true);
    return send(body) + zlib.gzipSync(Buffer.from(ndjson, 'utf8'), { level: 6 }).length;
  },
};

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function one(args) {
  const payload = decode(fs.readFileSync(args[0], 'utf8'));
  const body = blueprintBody(payload) || '';
  const dump = args.indexOf('--dump');
  if (dump !== -1) fs.writeFileSync(args[dump + 1], body);
  console.log(`one: events=${payload.logEvents.length} bulk_bytes=${Buffer.byteLength(body)} ` +
    `rss=${process.memoryUsage().rss}`);
}

function main() {
  const args = process.argv.slice(2);
  if (args.length === 0 || args[0] === '-h' || args[0] === '--help') {
    console.log('usage: node_blueprint.js DATA_DIR [REPS] [STAGE,...] | --one EVENT.json [--dump OUT]\n' +
      'stages: ' + Object.keys(STAGES).join(', '));
    return;
  }
  if (args[0] === '--one') return one(args.slice(1));
  const dir = args[0];
  const reps = parseInt(args[1] || '3', 10);
  const names = args[2] ? args[2].split(',') : Object.keys(STAGES);
  for (const name of names) {
    if (!STAGES[name]) throw new Error(`no stage ${name}; stages: ${Object.keys(STAGES).join(', ')}`);
  }
  const totals = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).totals;
  const files = fs.readdirSync(path.join(dir, 'events')).filter((f) => f.endsWith('.json')).sort();
  // Read before timing, as text: the runtime gives the handler a string.
  const texts = files.map((f) => fs.readFileSync(path.join(dir, 'events', f), 'utf8'));
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const reference = {};
  for (let rep = 0; rep <= reps; rep++) {
    for (const name of names) {
      const stage = STAGES[name];
      const start = process.hrtime.bigint();
      let check = 0;
      for (const text of texts) check += stage(text);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (rep === 0) reference[name] = check;
      else {
        if (check !== reference[name]) throw new Error(`${name}: ${check} != ${reference[name]}`);
        times[name].push(seconds);
      }
      process.stderr.write(`${rep === 0 ? 'warm-up' : 'rep ' + rep} ${name} ${seconds.toFixed(3)} s (${check})\n`);
    }
  }
  for (const name of names) {
    const sorted = times[name].slice().sort((a, b) => a - b);
    const med = median(sorted);
    console.log(JSON.stringify({
      harness: 'node', peer: 'node-' + process.version, stage: name, reps,
      median_s: +med.toFixed(5), min_s: +sorted[0].toFixed(5), max_s: +sorted[sorted.length - 1].toFixed(5),
      mb_per_s_json: +(totals.json_bytes / 1e6 / med).toFixed(2),
      mb_per_s_msg: +(totals.message_bytes / 1e6 / med).toFixed(2),
      events_per_s: Math.round(totals.events / med), check: reference[name],
      times: times[name].map((t) => +t.toFixed(5)),
    }));
  }
}

main();
