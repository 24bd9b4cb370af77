using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
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
        using var tcp = new TcpClient();
        var stream = await UpgradeRawAsync(tcp, server);

        // ori.ready arrives first; then an unmasked text frame "2".
        await stream.WriteAsync(new byte[] { 0x81, 0x01, (byte)'2' }, TestContext.Current.CancellationToken);
        var tail = await ReadToEndAsync(stream);
        var close = tail.AsSpan(tail.AsSpan().IndexOf((byte)0x88));
        Assert.Equal(SocketCloseCodes.ProtocolError, (close[2] << 8) | close[3]);
    }

    [Fact]
    public async Task Frames_dribbled_a_byte_at_a_time_or_packed_into_one_write_are_all_answered()
    {
        await using var server = await TestServer.StartAsync();
        using var tcp = new TcpClient { NoDelay = true };
        var stream = await UpgradeRawAsync(tcp, server);
        Assert.Contains("ori.ready", await ReadServerFrameAsync(stream), StringComparison.Ordinal);

        // A frame with a 16-bit length, one byte per write: the reader must wait for the rest every time.
        var text = new string('d', 100); // the test echo's limit; the frame is still over 125 bytes
        var dribbled = MaskedTextFrame($$"""{"type":"echo","data":{"text":"{{text}}"},"correlationId":"d1"}""");
        foreach (var b in dribbled)
        {
            await stream.WriteAsync(new[] { b }, TestContext.Current.CancellationToken);
            await stream.FlushAsync(TestContext.Current.CancellationToken);
        }

        var reply = await ReadServerFrameAsync(stream);
        Assert.True(reply.Contains("\"correlationId\":\"d1\"", StringComparison.Ordinal) && !reply.Contains("\"error\"", StringComparison.Ordinal), reply);
        Assert.Contains(text, reply, StringComparison.Ordinal);

        // Three frames in one write: each is answered, in order.
        var packed = new[] { "p1", "p2", "p3" }
            .SelectMany(id => MaskedTextFrame($$"""{"type":"echo","data":{"text":"{{id}}"},"correlationId":"{{id}}"}"""))
            .ToArray();
        await stream.WriteAsync(packed, TestContext.Current.CancellationToken);
        foreach (var id in new[] { "p1", "p2", "p3" })
        {
            Assert.Contains($"\"correlationId\":\"{id}\"", await ReadServerFrameAsync(stream), StringComparison.Ordinal);
        }
    }

    /// <summary>Connects <paramref name="tcp"/> and makes the upgrade by hand (RFC 6455's sample key); checks the 101.</summary>
    private static async Task<NetworkStream> UpgradeRawAsync(TcpClient tcp, TestServer server)
    {
        await tcp.ConnectAsync(IPAddress.Loopback, server.HttpUri.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        var handshake = $"GET /ws HTTP/1.1\r\nHost: {server.HttpUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(handshake), TestContext.Current.CancellationToken);

        var response = await ReadUntilAsync(stream, "\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 101", response, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", response, StringComparison.Ordinal);
        return stream;
    }

    private static byte[] MaskedTextFrame(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var header = payload.Length < 126
            ? new byte[] { 0x81, (byte)(0x80 | payload.Length) }
            : [0x81, 0x80 | 126, (byte)(payload.Length >> 8), (byte)payload.Length];
        byte[] mask = [0x12, 0x34, 0x56, 0x78];
        var frame = new byte[header.Length + 4 + payload.Length];
        header.CopyTo(frame, 0);
        mask.CopyTo(frame, header.Length);
        for (var i = 0; i < payload.Length; i++)
        {
            frame[header.Length + 4 + i] = (byte)(payload[i] ^ mask[i % 4]);
        }

        return frame;
    }

    /// <summary>Reads one unmasked server text frame (7- or 16-bit length) and returns its payload.</summary>
    private static async Task<string> ReadServerFrameAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        var header = new byte[2];
        await stream.ReadExactlyAsync(header, timeout.Token);
        Assert.Equal(0x81, header[0]);
        var length = header[1] & 0x7F;
        if (length == 126)
        {
            var extended = new byte[2];
            await stream.ReadExactlyAsync(extended, timeout.Token);
            length = (extended[0] << 8) | extended[1];
        }

        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, timeout.Token);
        return Encoding.UTF8.GetString(payload);
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
