// Unit tests of the page's pure parts (node:test), bundled by esbuild and run by
// tests/unit/test_api_web.py: the SSE parser the Live toggle reads the stream with, and the
// URL state.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SseParser } from "../src/live";
import { filterParams, listParams, listText, listValues, presetChanges, readState, withChanges } from "../src/state";

test("SSE events split across chunks, with ids, event names and heartbeats", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push(": heartbeat\n\nid: 7\nevent: log\ndata: {\"a\":"), []);
  assert.deepEqual(parser.push("1}\n\n"), [{ id: "7", event: "log", data: '{"a":1}' }]);
  assert.deepEqual(parser.push("event: reset\r\ndata: {\"reason\":\"slow\"}\r\n\r\n"), [
    { id: "7", event: "reset", data: '{"reason":"slow"}' },
  ]);
  assert.deepEqual(parser.push("data: a\ndata: b\n\n"), [{ id: "7", event: "message", data: "a\nb" }]);
});

test("the URL state: changes drop the cursor, the page keys stay out of API calls", () => {
  const state = readState("?status=error&cursor=abc&page=3&log=x&range=1h&period=1h&empty=");
  assert.equal(state.has("empty"), false);
  const next = withChanges(state, { log: "y" });
  assert.equal(next.get("cursor"), "abc");
  const refiltered = withChanges(state, { providers: "openai" });
  assert.equal(refiltered.has("cursor"), false);
  assert.equal(refiltered.has("page"), false);
  assert.equal(filterParams(state).toString(), "status=error&period=1h");
  assert.equal(listParams(state, 100).toString(), "status=error&period=1h&cursor=abc&limit=100");
  assert.equal(listParams(readState("?content_search=x"), 50).get("highlight"), "true");
});

test("presets: API periods slide, 15 minutes is a fixed start", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  assert.deepEqual(presetChanges("24h", now), { period: "24h", start_time: null, end_time: null, range: "24h" });
  assert.equal(presetChanges("15m", now)["start_time"], "2026-11-25T11:45:00.000Z");
  assert.equal(presetChanges(null, now)["period"], null);
});

test("list values: comma lists, JSON arrays when an item has a comma", () => {
  assert.deepEqual(listValues(" a, b ,,c"), ["a", "b", "c"]);
  assert.deepEqual(listValues('["x,y","z"]'), ["x,y", "z"]);
  assert.equal(listText(["x,y", "z"], true), '["x,y","z"]');
  assert.equal(listText(["a", "b"], true), "a,b");
  assert.equal(listText([], false), null);
});
