using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>What tests observe of the handlers, and the knobs they turn.</summary>
public sealed class TestHandlers
{
    public ConcurrentQueue<string> Handled { get; } = new();

    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// A dispatch table written by hand the way the generator writes it: switch on the UTF-8 length,
/// compare bytes with a u8 literal, call the handler directly.
/// </summary>
public sealed class TestDispatcher(TestHandlers handlers) : ISocketDispatcher
{
    public bool TryDispatch(ReadOnlySpan<byte> type, SocketInvocation invocation, out ValueTask completion)
    {
        switch (type.Length)
        {
            case 4 when type.SequenceEqual("echo"u8):
                completion = Echo(invocation);
                return true;
            case 4 when type.SequenceEqual("slow"u8):
                completion = SlowAsync(invocation);
                return true;
            case 4 when type.SequenceEqual("fail"u8):
                completion = Fail(invocation);
                return true;
            case 6 when type.SequenceEqual("notify"u8):
                completion = Notify(invocation);
                return true;
            case 6 when type.SequenceEqual("whoami"u8):
                completion = WhoAmI(invocation);
                return true;
            case 9 when type.SequenceEqual("subscribe"u8):
                completion = SubscribeAsync(invocation);
                return true;
            case 10 when type.SequenceEqual("echo.async"u8):
                completion = EchoAsync(invocation);
                return true;
            case 14 when type.SequenceEqual("publish.others"u8):
                completion = PublishOthersAsync(invocation);
                return true;
            default:
                completion = default;
                return false;
        }
    }

    private ValueTask Echo(SocketInvocation invocation)
    {
        if (invocation.TryReadData(EchoRequest.Serializer, out var request))
        {
            handlers.Handled.Enqueue(request.Text);
            invocation.Reply(new EchoReply(request.Text), EchoReply.Serializer);
        }

        return default;
    }

    private async ValueTask EchoAsync(SocketInvocation invocation)
    {
        if (!invocation.TryReadData(EchoRequest.Serializer, out var request))
        {
            return;
        }

        await Task.Yield();
        handlers.Handled.Enqueue(request.Text);
        invocation.Reply(new EchoReply(request.Text), EchoReply.Serializer);
    }

    private async ValueTask SlowAsync(SocketInvocation invocation)
    {
        if (!invocation.TryReadData(EchoRequest.Serializer, out var request))
        {
            return;
        }

        await Task.Delay(handlers.SlowDelay, invocation.Aborted);
        handlers.Handled.Enqueue(request.Text);
        invocation.Reply(new EchoReply(request.Text), EchoReply.Serializer);
    }

    private static ValueTask Fail(SocketInvocation invocation) =>
        throw new InvalidOperationException("secret-detail-of-the-failure");

    private ValueTask Notify(SocketInvocation invocation)
    {
        if (invocation.TryReadData(EchoRequest.Serializer, out var request))
        {
            handlers.Handled.Enqueue(request.Text);
            invocation.Complete();
        }

        return default;
    }

    private static ValueTask WhoAmI(SocketInvocation invocation)
    {
        var context = invocation.Context;
        invocation.Reply(new RawReply(w =>
        {
            w.WriteStartObject();
            w.WriteString("socketId", context.SocketId);
            w.WriteString("state", context.State?.ToString());
            w.WriteString("upgradeData", context.UpgradeData?.ToString());
            w.WriteString("userId", context.UserId);
            w.WriteEndObject();
        }), RawReply.Serializer);
        return default;
    }

    private static async ValueTask SubscribeAsync(SocketInvocation invocation)
    {
        if (!invocation.TryReadData(EchoRequest.Serializer, out var request))
        {
            return;
        }

        await invocation.Context.SubscribeAsync(request.Text);
        invocation.Reply(new EchoReply(request.Text), EchoReply.Serializer);
    }

    private static async ValueTask PublishOthersAsync(SocketInvocation invocation)
    {
        if (!invocation.TryReadData(EchoRequest.Serializer, out var request))
        {
            return;
        }

        var emitter = invocation.Services.GetRequiredService<ISocketEmitter>();
        await emitter.PublishAsync(request.Text, $"from:{invocation.Context.SocketId}", [invocation.Context.SocketId]);
        invocation.Complete();
    }
}
