using System.Net.WebSockets;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

public sealed class GuardAndFramingTests
{
    [Fact]
    public async Task Message_guard_verdicts_give_rate_limited_forbidden_and_finally_1008()
    {
        await using var server = await TestServer.StartAsync(messageGuards: [typeof(CountingGuard)]);
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();

        Assert.Equal("ok", (await client.RequestAsync("echo", new { text = "ok" })).GetProperty("data").GetProperty("text").GetString());
        Assert.Equal("forbidden", (await client.RequestAsync("echo", new { text = "admin" })).GetProperty("error").GetString());
        Assert.Equal("ok", (await client.RequestAsync("echo", new { text = "ok" })).GetProperty("data").GetProperty("text").GetString());

        // The heartbeat and the built-in types are not routed messages: the guard never sees them.
        await client.SendAsync("2");
        Assert.Equal("3", await client.ReceiveAsync());

        var limited = await client.RequestAsync("echo", new { text = "ok" }, "r");
        Assert.Equal("rate_limited", limited.GetProperty("error").GetString());
        Assert.Equal("r", limited.GetProperty("correlationId").GetString());

        await client.SendJsonAsync(new { type = "echo", data = new { text = "ok" } });
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitForCloseAsync());
    }

    [Fact]
    public async Task Unmasked_client_frame_closes_with_1002()
    {
        await using var server = await TestServer.StartAsync();
        await using var raw = await RawSocket.ConnectAsync(server);
        Assert.Contains("ori.ready", await raw.ReadTextAsync(), StringComparison.Ordinal);

        // An unmasked text frame "2".
        await raw.SendAsync([0x81, 0x01, (byte)'2']);
        Assert.Equal(SocketCloseCodes.ProtocolError, await raw.ReadCloseCodeAsync());
    }

    [Fact]
    public async Task Frames_dribbled_a_byte_at_a_time_or_packed_into_one_write_are_all_answered()
    {
        await using var server = await TestServer.StartAsync();
        await using var raw = await RawSocket.ConnectAsync(server);
        Assert.Contains("ori.ready", await raw.ReadTextAsync(), StringComparison.Ordinal);

        // A frame with a 16-bit length, one byte per write: the reader must wait for the rest every time.
        var text = new string('d', 100); // the test echo's limit; the frame is still over 125 bytes
        var dribbled = RawSocket.Text($$"""{"type":"echo","data":{"text":"{{text}}"},"correlationId":"d1"}""");
        foreach (var b in dribbled)
        {
            await raw.SendAsync([b]);
            await raw.Stream.FlushAsync(TestContext.Current.CancellationToken);
        }

        var reply = await raw.ReadTextAsync();
        Assert.True(reply.Contains("\"correlationId\":\"d1\"", StringComparison.Ordinal) && !reply.Contains("\"error\"", StringComparison.Ordinal), reply);
        Assert.Contains(text, reply, StringComparison.Ordinal);

        // Three frames in one write: each is answered, in order.
        var packed = new[] { "p1", "p2", "p3" }
            .SelectMany(id => RawSocket.Text($$"""{"type":"echo","data":{"text":"{{id}}"},"correlationId":"{{id}}"}"""))
            .ToArray();
        await raw.SendAsync(packed);
        foreach (var id in new[] { "p1", "p2", "p3" })
        {
            Assert.Contains($"\"correlationId\":\"{id}\"", await raw.ReadTextAsync(), StringComparison.Ordinal);
        }
    }

    private sealed class CountingGuard : IMessageGuard
    {
        private int _count;

        public ValueTask<MessageGuardVerdict> CheckAsync(SocketInvocation invocation)
        {
            var count = ++_count;
            if (invocation.Data.Span.IndexOf("admin"u8) >= 0)
            {
                return new(MessageGuardVerdict.Forbid);
            }

            return new(count switch
            {
                <= 3 => MessageGuardVerdict.Allow,
                4 => MessageGuardVerdict.RateLimit,
                _ => MessageGuardVerdict.Close,
            });
        }
    }
}
