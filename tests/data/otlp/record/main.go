// Writes one GenAI chat call as the OpenTelemetry Collector's Kafka exporter encodes it:
// pdata's ProtoMarshaler (otlp_proto) and JSONMarshaler (otlp_json), traces and logs.
package main

import (
	"os"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	traceID = pcommon.TraceID([16]byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c})
	spanID  = pcommon.SpanID([8]byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74})
	parent  = pcommon.SpanID([8]byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73})
)

const start = 1764000000000000000

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func main() {
	traces := ptrace.NewTraces()
	rs := traces.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bifrost")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("bifrost")
	span := ss.Spans().AppendEmpty()
	span.SetTraceID(traceID)
	span.SetSpanID(spanID)
	span.SetParentSpanID(parent)
	span.SetName("chat gpt-4o")
	span.SetKind(ptrace.SpanKindClient)
	span.SetStartTimestamp(pcommon.Timestamp(start))
	span.SetEndTimestamp(pcommon.Timestamp(start + 812000000))
	a := span.Attributes()
	a.PutStr("gen_ai.operation.name", "chat")
	a.PutStr("gen_ai.provider.name", "openai")
	a.PutStr("gen_ai.request.model", "gpt-4o")
	a.PutInt("gen_ai.usage.input_tokens", 12)
	a.PutInt("gen_ai.usage.output_tokens", 5)
	a.PutDouble("gen_ai.request.temperature", 0.2)
	a.PutEmptySlice("gen_ai.response.finish_reasons").AppendEmpty().SetStr("stop")
	a.PutStr("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]`)
	a.PutStr("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Sunny."}],"finish_reason":"stop"}]`)

	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "bifrost")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("bifrost")
	rec := sl.LogRecords().AppendEmpty()
	rec.SetTimestamp(pcommon.Timestamp(start + 812000000))
	rec.SetObservedTimestamp(pcommon.Timestamp(start + 812000001))
	rec.SetSeverityNumber(plog.SeverityNumberDebug)
	rec.SetEventName("gen_ai.client.inference.operation.details")
	rec.SetTraceID(traceID)
	rec.SetSpanID(spanID)
	la := rec.Attributes()
	la.PutStr("gen_ai.operation.name", "chat")
	la.PutStr("gen_ai.provider.name", "openai")
	msg := la.PutEmptySlice("gen_ai.input.messages").AppendEmpty().SetEmptyMap()
	msg.PutStr("role", "user")
	part := msg.PutEmptySlice("parts").AppendEmpty().SetEmptyMap()
	part.PutStr("type", "text")
	part.PutStr("content", "Weather in Paris?")

	os.WriteFile("traces.json", must((&ptrace.JSONMarshaler{}).MarshalTraces(traces)), 0o644)
	os.WriteFile("traces.binpb", must((&ptrace.ProtoMarshaler{}).MarshalTraces(traces)), 0o644)
	os.WriteFile("logs.json", must((&plog.JSONMarshaler{}).MarshalLogs(logs)), 0o644)
	os.WriteFile("logs.binpb", must((&plog.ProtoMarshaler{}).MarshalLogs(logs)), 0o644)
}
