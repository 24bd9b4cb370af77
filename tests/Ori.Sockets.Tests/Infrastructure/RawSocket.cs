using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>
/// A WebSocket client written by hand over a TCP socket, for cases no well-behaved client sends: any frame, masked or
/// not, any length field, split or packed as the test wants. The upgrade uses RFC 6455's sample key.
/// </summary>
internal sealed class RawSocket : IAsyncDisposable
{
    private readonly TcpClient _tcp;

    private RawSocket(TcpClient tcp, NetworkStream stream)
    {
        _tcp = tcp;
        Stream = stream;
    }

    public NetworkStream Stream { get; }

    /// <summary>Connects, makes the upgrade, checks the 101 and its accept key.</summary>
    public static Task<RawSocket> ConnectAsync(TestServer server, string path = "/ws") => ConnectAsync(server.HttpUri.Port, path);

    /// <summary>
    /// Connects to a port of 127.0.0.1, makes the upgrade (with <paramref name="early"/> written right behind the request,
    /// before the 101 is read), checks the 101 and its accept key.
    /// </summary>
    public static async Task<RawSocket> ConnectAsync(int port, string path = "/ws", byte[]? early = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        var handshake = $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync((byte[])[.. Encoding.ASCII.GetBytes(handshake), .. early ?? []], TestContext.Current.CancellationToken);
        var response = await ReadUntilAsync(stream, "\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 101", response, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", response, StringComparison.Ordinal);
        return new RawSocket(tcp, stream);
    }

    /// <summary>A client frame: masked unless told otherwise, with the shortest length encoding.</summary>
    public static byte[] Frame(byte opcode, bool fin, ReadOnlySpan<byte> payload, bool masked = true)
    {
        var lengthBytes = payload.Length < 126 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8;
        var frame = new byte[2 + lengthBytes + (masked ? 4 : 0) + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | opcode);
        var maskBit = masked ? 0x80 : 0;
        var at = 2;
        if (lengthBytes == 0)
        {
            frame[1] = (byte)(maskBit | payload.Length);
        }
        else if (lengthBytes == 2)
        {
            frame[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
            at = 4;
        }
        else
        {
            frame[1] = (byte)(maskBit | 127);
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
            at = 10;
        }

        ReadOnlySpan<byte> key = [0x37, 0xFA, 0x21, 0x3D];
        if (masked)
        {
            key.CopyTo(frame.AsSpan(at));
            at += 4;
        }

        for (var i = 0; i < payload.Length; i++)
        {
            frame[at + i] = masked ? (byte)(payload[i] ^ key[i & 3]) : payload[i];
        }

        return frame;
    }

    /// <summary>A masked header with a 64-bit length field and no payload.</summary>
    public static byte[] LongHeader(byte opcode, bool fin, ulong length)
    {
        var frame = new byte[14];
        frame[0] = (byte)((fin ? 0x80 : 0) | opcode);
        frame[1] = 0x80 | 127;
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), length);
        return frame;
    }

    public static byte[] Text(string text) => Frame(0x1, fin: true, Encoding.UTF8.GetBytes(text));

    public Task SendAsync(byte[] bytes) => Stream.WriteAsync(bytes, TestContext.Current.CancellationToken).AsTask();

    /// <summary>Reads one server frame (never masked): its opcode and payload.</summary>
    public async Task<(int Opcode, byte[] Payload)> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TestClient.DefaultTimeout);
        var header = new byte[2];
        await Stream.ReadExactlyAsync(header, cancel.Token);
        long length = header[1] & 0x7F;
        if (length == 126)
        {
            var extended = new byte[2];
            await Stream.ReadExactlyAsync(extended, cancel.Token);
            length = BinaryPrimitives.ReadUInt16BigEndian(extended);
        }
        else if (length == 127)
        {
            var extended = new byte[8];
            await Stream.ReadExactlyAsync(extended, cancel.Token);
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(extended);
        }

        var payload = new byte[length];
        await Stream.ReadExactlyAsync(payload, cancel.Token);
        return (header[0] & 0x0F, payload);
    }

    /// <summary>Reads one server text frame and returns its text.</summary>
    public async Task<string> ReadTextAsync()
    {
        var (opcode, payload) = await ReadFrameAsync();
        Assert.Equal(0x1, opcode);
        return Encoding.UTF8.GetString(payload);
    }

    /// <summary>Reads frames until the server's close frame; returns its code, or null when the connection ended without one.</summary>
    public async Task<int?> ReadCloseCodeAsync(TimeSpan? timeout = null)
    {
        try
        {
            while (true)
            {
                var (opcode, payload) = await ReadFrameAsync(timeout);
                if (opcode == 0x8)
                {
                    return payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 1005;
                }
            }
        }
        catch (EndOfStreamException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return default;
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
}
