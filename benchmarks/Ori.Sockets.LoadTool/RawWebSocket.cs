using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ori.Sockets.LoadTool;

/// <summary>
/// A lean WebSocket client: a raw socket, a hand-made upgrade, masked text frames out, and many frames
/// parsed per receive call in. It never allocates per received frame; the callback sees the payload.
/// </summary>
internal sealed class RawWebSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private int _start;
    private int _end;

    private RawWebSocket(Socket socket) => _socket = socket;

    public static async Task<RawWebSocket> ConnectAsync(int port, string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        var client = new RawWebSocket(socket);
        var request = $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, cancellationToken);
        while (true)
        {
            var read = await socket.ReceiveAsync(client._buffer.AsMemory(client._end), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException("closed during the upgrade");
            }

            client._end += read;
            var headerEnd = client._buffer.AsSpan(0, client._end).IndexOf("\r\n\r\n"u8);
            if (headerEnd >= 0)
            {
                if (!client._buffer.AsSpan(0, headerEnd).StartsWith("HTTP/1.1 101"u8))
                {
                    throw new IOException("upgrade refused: " + Encoding.ASCII.GetString(client._buffer, 0, headerEnd));
                }

                client._start = headerEnd + 4;
                return client;
            }
        }
    }

    /// <summary>Sends one masked text frame (mask key 0: the payload is sent as is).</summary>
    public async Task SendTextAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        var header = new byte[14];
        header[0] = 0x81;
        int length;
        if (payload.Length < 126)
        {
            header[1] = (byte)(0x80 | payload.Length);
            length = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            header[1] = 0x80 | 126;
            header[2] = (byte)(payload.Length >> 8);
            header[3] = (byte)payload.Length;
            length = 4;
        }
        else
        {
            header[1] = 0x80 | 127;
            for (var i = 0; i < 8; i++)
            {
                header[2 + i] = (byte)((long)payload.Length >> (56 - (8 * i)));
            }

            length = 10;
        }

        // Four zero bytes of mask key follow the length.
        length += 4;
        var frame = ArrayPool<byte>.Shared.Rent(length + payload.Length);
        try
        {
            header.AsSpan(0, length).CopyTo(frame);
            payload.Span.CopyTo(frame.AsSpan(length));
            await _sendLock.WaitAsync(cancellationToken);
            try
            {
                await _socket.SendAsync(frame.AsMemory(0, length + payload.Length), SocketFlags.None, cancellationToken);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    public Task SendTextAsync(string text, CancellationToken cancellationToken = default) => SendTextAsync(Encoding.UTF8.GetBytes(text), cancellationToken);

    /// <summary>Reads frames until <paramref name="onFrame"/> returns false or the connection ends.</summary>
    public async Task ReceiveAsync(Func<ReadOnlyMemory<byte>, bool> onFrame, CancellationToken cancellationToken)
    {
        while (true)
        {
            // Every complete frame in the buffer first.
            while (TryTakeFrame(out var payload, out var opcode))
            {
                if (opcode == 0x8)
                {
                    return;
                }

                if (opcode is 0x1 or 0x0 && !onFrame(payload))
                {
                    return;
                }
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return;
            }

            _end += read;
        }
    }

    private bool TryTakeFrame(out ReadOnlyMemory<byte> payload, out int opcode)
    {
        payload = default;
        opcode = 0;
        var available = _end - _start;
        if (available < 2)
        {
            return false;
        }

        var span = _buffer.AsSpan(_start, available);
        opcode = span[0] & 0x0F;
        long length = span[1] & 0x7F;
        var offset = 2;
        if (length == 126)
        {
            if (available < 4)
            {
                return false;
            }

            length = (span[2] << 8) | span[3];
            offset = 4;
        }
        else if (length == 127)
        {
            if (available < 10)
            {
                return false;
            }

            length = 0;
            for (var i = 0; i < 8; i++)
            {
                length = (length << 8) | span[2 + i];
            }

            offset = 10;
        }

        if (available < offset + length)
        {
            if (offset + length > _buffer.Length)
            {
                throw new IOException("frame larger than the receive buffer");
            }

            return false;
        }

        payload = _buffer.AsMemory(_start + offset, (int)length);
        _start += offset + (int)length;
        return true;
    }

    public void Dispose()
    {
        _socket.Dispose();
        _sendLock.Dispose();
    }
}
