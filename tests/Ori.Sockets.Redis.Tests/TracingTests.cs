using System.Collections.Concurrent;
using System.Diagnostics;
using Ori.Sockets.Redis.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Redis.Tests;

/// <summary>A publish's trace context crosses Redis: the delivery on another instance links to the publish that caused it.</summary>
public sealed class TracingTests : IAsyncLifetime
{
    private static readonly ActivitySource s_application = new("Ori.Sockets.Redis.Tests.Application");
    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..10];
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private ActivityListener _listener = null!;
    private Instance _a = null!;
    private Instance _b = null!;

    public async ValueTask InitializeAsync()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Ori.Sockets" or "Ori.Sockets.Redis.Tests.Application",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
        _a = await Instance.StartAsync(RedisServer.Shared, _prefix);
        _b = await Instance.StartAsync(RedisServer.Shared, _prefix);
    }

    public async ValueTask DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        _listener.Dispose();
    }

    [Fact]
    public async Task A_push_delivered_on_another_instance_links_to_its_publish_span_in_the_publishers_trace()
    {
        var (onB, _) = await _b.JoinAsync("traced");
        await using (onB)
        {
            string traceId;
            using (var request = s_application.StartActivity("handle request"))
            {
                traceId = request!.TraceId.ToString();
                await _a.Emitter.PublishAsync("traced", Notes.Push("hello"), cancellationToken: TestContext.Current.CancellationToken);
            }

            Assert.Equal("hello", await Notes.TextAsync(onB));
            await Eventually.TrueAsync(() => _stopped.Any(a => a.OperationName == "ori.sockets.deliver" && (string?)a.GetTagItem("ori.publish.target") == "traced"));

            var publish = Assert.Single(_stopped, a => a.OperationName == "ori.sockets.publish" && (string?)a.GetTagItem("ori.publish.target") == "traced");
            Assert.Equal(ActivityKind.Producer, publish.Kind);
            Assert.Equal(traceId, publish.TraceId.ToString());

            // One delivery span, on B (A skips its own echo), linked to the publish span, not parented on it.
            var deliver = Assert.Single(_stopped, a => a.OperationName == "ori.sockets.deliver" && (string?)a.GetTagItem("ori.publish.target") == "traced");
            Assert.Equal(ActivityKind.Consumer, deliver.Kind);
            var link = Assert.Single(deliver.Links);
            Assert.Equal(publish.TraceId, link.Context.TraceId);
            Assert.Equal(publish.SpanId, link.Context.SpanId);
            Assert.NotEqual(publish.TraceId, deliver.TraceId);
        }
    }

    [Fact]
    public async Task A_send_to_a_user_on_another_instance_carries_its_trace_too()
    {
        var (onB, _) = await _b.ConnectAsync(user: "ada");
        await using (onB)
        {
            ActivityTraceId traceId;
            using (var request = s_application.StartActivity("notify"))
            {
                traceId = request!.TraceId;
                await _a.Emitter.SendToUserAsync("ada", Notes.Push("for ada"), cancellationToken: TestContext.Current.CancellationToken);
            }

            Assert.Equal("for ada", await Notes.TextAsync(onB));
            await Eventually.TrueAsync(() => _stopped.Any(a => a.OperationName == "ori.sockets.deliver" && (string?)a.GetTagItem("ori.publish.target") == "ada"));
            var deliver = Assert.Single(_stopped, a => a.OperationName == "ori.sockets.deliver" && (string?)a.GetTagItem("ori.publish.target") == "ada");
            Assert.Equal(traceId, Assert.Single(deliver.Links).Context.TraceId);
        }
    }
}
