using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Protocol;
using Ori.Sockets.Tests.Generated;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.Unit;

/// <summary>
/// The hot paths allocate what they must and nothing more. Measured per thread, after a warm-up. A collection of its
/// own with the tracing tests: an activity listener is process-wide, and these measure the case of none.
/// </summary>
[Collection(nameof(AllocationTests))]
public sealed class AllocationTests
{
    [Fact]
    public void Parsing_an_envelope_allocates_nothing()
    {
        var message = """{"type":"presence.update","data":{"status":"idle"},"correlationId":"c-42"}"""u8.ToArray();
        var type = new byte[128];
        for (var i = 0; i < 100; i++)
        {
            EnvelopeReader.TryRead(message, 32, type, out _, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            EnvelopeReader.TryRead(message, 32, type, out _, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Building_a_reply_allocates_only_the_frame()
    {
        var type = "echo"u8.ToArray();
        var correlation = "\"c-1\""u8.ToArray();
        var reply = new EchoReply("hello");
        var frame = EnvelopeFrames.Reply(type, correlation, reply, static (w, r) => EchoReply.Serializer.Write(w, r));
        for (var i = 0; i < 100; i++)
        {
            EnvelopeFrames.Reply(type, correlation, reply, static (w, r) => EchoReply.Serializer.Write(w, r));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            EnvelopeFrames.Reply(type, correlation, reply, static (w, r) => EchoReply.Serializer.Write(w, r));
        }

        var perReply = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;

        // The frame object and its byte array (with their headers), nothing else.
        Assert.InRange(perReply, frame.Length, frame.Length + 80);
    }

    [Fact]
    public async Task Routing_a_message_through_the_generated_table_allocates_nothing()
    {
        await using var server = await TestServer.StartAsync(
            sockets: s => s.AddSocketRouters(),
            builder: b => b.Services.AddSingleton<OrderBook>());
        ISocketDispatcher dispatcher = server.Services.GetRequiredService<ShopSocket>();
        using var scope = server.Services.CreateScope();
        var invocation = new RecordingSocket("alloc").NewInvocation(scope.ServiceProvider);

        // No correlation id and nothing returned: no reply, so the whole path must be free.
        Assert.Equal(0, Measure(invocation, dispatcher, "order.ping"u8, default, default));

        // Reading and validating a value-type message, then calling the handler.
        var data = """{"count":7,"urgent":true}"""u8.ToArray();
        Assert.Equal(0, Measure(invocation, dispatcher, "stock.check"u8, default, data));
        var router = invocation.Context.GetConnectionService<ShopRouter>(0, static _ => throw new InvalidOperationException("created by the dispatcher"));
        Assert.Equal(7 * 1100, router.Checked);

        // An unknown route is refused without allocating either.
        invocation.Reset("no.such.route"u8.Length, default, default);
        "no.such.route"u8.CopyTo(invocation.TypeBuffer);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(dispatcher.TryDispatch(invocation.Type, invocation, out _));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task The_whole_pipeline_with_a_traceparent_allocates_nothing_when_no_listener_is_attached()
    {
        await using var server = await TestServer.StartAsync(
            sockets: s => s.AddSocketRouters(),
            builder: b => b.Services.AddSingleton<OrderBook>());
        ISocketDispatcher dispatcher = server.Services.GetRequiredService<ShopSocket>();
        using var scope = server.Services.CreateScope();
        var socket = new RecordingSocket("alloc-trace");
        var invocation = socket.NewInvocation(scope.ServiceProvider);
        var pipeline = new Ori.Sockets.Routing.MessagePipeline(32, new Ori.Sockets.Routing.MessageBudget(0, 0, 5), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var message = """{"type":"order.ping","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"""u8.ToArray();
        Assert.False(Ori.Sockets.Telemetry.SocketTracing.IsOn);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(ProcessedSynchronously(pipeline, dispatcher, invocation, message));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            ProcessedSynchronously(pipeline, dispatcher, invocation, message);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Empty(socket.Texts);
    }

    private static bool ProcessedSynchronously(Ori.Sockets.Routing.MessagePipeline pipeline, ISocketDispatcher dispatcher, SocketInvocation invocation, byte[] message)
    {
        var pending = pipeline.ProcessAsync(dispatcher, invocation, message);
        return pending.IsCompletedSuccessfully;
    }

    private static long Measure(SocketInvocation invocation, ISocketDispatcher dispatcher, ReadOnlySpan<byte> type, ReadOnlyMemory<byte> correlation, ReadOnlyMemory<byte> data)
    {
        type.CopyTo(invocation.TypeBuffer);
        for (var i = 0; i < 100; i++)
        {
            DispatchOnce(invocation, dispatcher, type.Length, correlation, data);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            DispatchOnce(invocation, dispatcher, type.Length, correlation, data);
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static void DispatchOnce(SocketInvocation invocation, ISocketDispatcher dispatcher, int typeLength, ReadOnlyMemory<byte> correlation, ReadOnlyMemory<byte> data)
    {
        invocation.Reset(typeLength, correlation, data);
        Assert.True(dispatcher.TryDispatch(invocation.Type, invocation, out var completion));
        Assert.True(completion.IsCompletedSuccessfully);
    }
}
