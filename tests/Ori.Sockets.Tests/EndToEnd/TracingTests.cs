using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>
/// The activity source Ori.Sockets on a real server: a span per routed message, parented on the envelope's
/// traceparent. In the allocation tests' collection: a listener is process-wide, and they measure the case of none.
/// </summary>
[Collection(nameof(Unit.AllocationTests))]
public sealed class TracingTests : IDisposable
{
    private const string TraceId = "0af7651916cd43dd8448eb211c80319c";
    private const string ParentSpanId = "b7ad6b7169203331";
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Ori.Sockets",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    private Activity SpanOf(string socketId, string route) =>
        Assert.Single(_stopped, a => (string?)a.GetTagItem("ori.socket.id") == socketId && a.DisplayName == route);

    [Fact]
    public async Task A_message_with_a_traceparent_gets_a_server_span_under_it_current_while_its_handler_runs()
    {
        Activity? seenByRule = null;
        await using var server = await TestServer.StartAsync(sockets: s => s.AddRoomRule((_, room) =>
        {
            seenByRule = Activity.Current;
            return room != "secret";
        }));
        await using var client = await server.ConnectAsync();
        var socketId = await client.ReadyAsync();

        await client.SendAsync($$"""{"type":"room.join","data":{"room":"news"},"correlationId":"a","traceparent":"00-{{TraceId}}-{{ParentSpanId}}-01"}""");
        Assert.Equal("a", (await client.ReceiveJsonAsync()).GetProperty("correlationId").GetString());
        await Eventually.TrueAsync(() => _stopped.Any(a => (string?)a.GetTagItem("ori.socket.id") == socketId));

        var span = SpanOf(socketId, "room.join");
        Assert.Equal("ori.sockets.message", span.OperationName);
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal(TraceId, span.TraceId.ToHexString());
        Assert.Equal(ParentSpanId, span.ParentSpanId.ToHexString());
        Assert.True(span.HasRemoteParent);
        Assert.Equal("room.join", span.GetTagItem("ori.route"));
        Assert.Equal("ok", span.GetTagItem("ori.outcome"));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);

        // The room rule ran inside the span: the application's own spans nest under it.
        Assert.Same(span, seenByRule);
    }

    [Fact]
    public async Task Without_a_valid_traceparent_a_message_is_a_root_span_and_refusals_and_unknown_types_are_tagged()
    {
        await using var server = await TestServer.StartAsync(sockets: s => s.AddRoomRule((_, room) => room != "secret"));
        await using var client = await server.ConnectAsync();
        var socketId = await client.ReadyAsync();

        await client.RequestAsync("room.join", new { room = "news" }, "plain");
        await client.SendAsync("""{"type":"room.join","data":{"room":"secret"},"correlationId":"bad-trace","traceparent":"00-not-a-trace-01"}""");
        Assert.Equal("forbidden", (await client.ReceiveJsonAsync()).GetProperty("error").GetString());
        await client.SendAsync("""{"type":"no.such.route","correlationId":"u","traceparent":42}""");
        Assert.Equal("unknown_type", (await client.ReceiveJsonAsync()).GetProperty("error").GetString());
        await Eventually.TrueAsync(() => _stopped.Count(a => (string?)a.GetTagItem("ori.socket.id") == socketId) == 3);

        var joins = _stopped.Where(a => (string?)a.GetTagItem("ori.socket.id") == socketId && a.DisplayName == "room.join").ToList();
        Assert.Equal(2, joins.Count);
        Assert.All(joins, a => Assert.Equal(default, a.ParentSpanId));
        Assert.Equal(["forbidden", "ok"], joins.Select(a => (string)a.GetTagItem("ori.outcome")!).Order());

        // An unknown type is one span name whatever the client sent: bounded cardinality.
        var unknown = SpanOf(socketId, "unknown");
        Assert.Equal("unknown_type", unknown.GetTagItem("ori.outcome"));
        Assert.Equal(default, unknown.ParentSpanId);
    }

    [Fact]
    public async Task The_heartbeat_and_refused_envelopes_make_no_span()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        var socketId = await client.ReadyAsync();

        await client.SendAsync("2");
        Assert.Equal("3", await client.ReceiveAsync());
        await client.SendAsync("""{"type":"x","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","traceparent":"again"}""");
        var refused = await client.ReceiveJsonAsync();
        Assert.Equal("bad_request", refused.GetProperty("error").GetString());
        Assert.Contains("repeats", refused.GetProperty("message").GetString(), StringComparison.Ordinal);

        // A routed message after them: its span is the only one of the socket.
        await client.RequestAsync("heartbeat", null, "h");
        await Eventually.TrueAsync(() => _stopped.Any(a => (string?)a.GetTagItem("ori.socket.id") == socketId));
        Assert.Equal("heartbeat", Assert.Single(_stopped, a => (string?)a.GetTagItem("ori.socket.id") == socketId).DisplayName);
    }
}
