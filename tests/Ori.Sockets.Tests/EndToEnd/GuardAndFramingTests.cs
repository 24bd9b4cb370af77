using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Ori.Sockets.Routing;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

public sealed class GuardAndFramingTests
{
    [Fact]
    public async Task Message_guard_verdicts_give_rate_limited_forbidden_and_finally_1008()
    {
        await using var server = await TestServer.StartAsync(sockets: s => s.AddMessageGuard<CountingGuard>());
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
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.HttpUri.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        var handshake = $"GET /ws HTTP/1.1\r\nHost: {server.HttpUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(handshake), TestContext.Current.CancellationToken);

        var response = await ReadUntilAsync(stream, "\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 101", response, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", response, StringComparison.Ordinal);

        // ori.ready arrives first; then an unmasked text frame "2".
        await stream.WriteAsync(new byte[] { 0x81, 0x01, (byte)'2' }, TestContext.Current.CancellationToken);
        var tail = await ReadToEndAsync(stream);
        var close = tail.AsSpan(tail.AsSpan().IndexOf((byte)0x88));
        Assert.Equal(SocketCloseCodes.ProtocolError, (close[2] << 8) | close[3]);
    }

    private static async Task<string> ReadUntilAsync(NetworkStream stream, string end)
    {
        var text = new StringBuilder();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        while (!text.ToString().EndsWith(end, StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, timeout.Token) == 0)
            {
                break;
            }

            text.Append((char)one[0]);
        }

        return text.ToString();
    }

    private static async Task<byte[]> ReadToEndAsync(NetworkStream stream)
    {
        using var buffer = new MemoryStream();
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        await stream.CopyToAsync(buffer, timeout.Token);
        return buffer.ToArray();
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
